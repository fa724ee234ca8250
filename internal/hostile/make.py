"""Writes mlserve's hostile test corpus: model files and uploads that must be refused.

Every case is a folder under corpus/ holding what a user could put in a version folder (an artifact, and for
some a model.yaml), plus an entry in cases.json saying what it tries and what the refusal must mention. The Go
tests (internal/hostile's reader test, e2e's upload and crash-loop tests) read cases.json; none of them needs
Python. Run from the repository root with the project's virtual environment:

    .venv/bin/python internal/hostile/make.py

Hand-made pickles are written opcode by opcode (pickle's own opcode constants), so a case says exactly what
it does; the NaN/Inf cases are real scikit-learn pipelines with one value changed. Files are deterministic
except for the scikit-learn ones (joblib writes them the same way for the same release).
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import pickle
import shutil
import struct
import sys
import zlib
from pathlib import Path

import lz4.frame
import numpy as np

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
# A code-execution attempt would create this file; the tests assert it never exists.
MARKER = "/tmp/mlserve-hostile-marker"
TOUCH = f"touch {MARKER}"

# What a refusal must mention, per family (a Go regexp, matched case-insensitively).
EXPECT = {
    "exec": r"not allow|forbidden|not supported|refus",
    "cycle": r"cycle|contains itself|itself|recurs|depth|deep|nest",
    "deep": r"depth|deep|nest|cycle|limit",
    "bomb": r"limit|budget|larger than|too large|exceed|memory",
    "cpu": r"limit|budget|digits|too long|hash|exceed|too large",
    "nan": r"nan|inf|finite",
    "path": r"outside|escape|absolute|not inside|\.\.|path",
    "bounds": r"ngram|n_features|max_features|range|bound|limit|too large|exceed",
    "malformed": r"malformed|truncated|unreadable|invalid|unknown opcode|missing|not a|empty|corrupt|unsupported|checksum|decompress",
}

cases: list[dict] = []


def add(name: str, group: str, what: str, files: dict[str, bytes], artifact: str | None = None,
        reader: bool = True, expect: str | None = None) -> None:
    """Writes one case folder and records it."""
    d = CORPUS / name
    d.mkdir(parents=True)
    for fname, data in files.items():
        (d / fname).write_bytes(data)
    if artifact is None:
        artifact = next(f for f in files if f != "model.yaml")
    cases.append({"name": name, "group": group, "what": what, "artifact": artifact,
                  "manifest": "model.yaml" in files, "reader": reader,
                  "expect": expect or EXPECT[group]})


# --- opcode emitters --------------------------------------------------------------------------------------

P2 = pickle.PROTO + b"\x02"
P4 = pickle.PROTO + b"\x04"


def glob(module: str, name: str) -> bytes:
    return pickle.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n"


def ustr(s: str) -> bytes:
    b = s.encode()
    if len(b) < 256:
        return pickle.SHORT_BINUNICODE + bytes([len(b)]) + b
    return pickle.BINUNICODE + struct.pack("<I", len(b)) + b


def put(i: int) -> bytes:
    return pickle.LONG_BINPUT + struct.pack("<I", i)


def get(i: int) -> bytes:
    return pickle.LONG_BINGET + struct.pack("<I", i)


def obj(module: str, name: str) -> bytes:
    """An instance of module.name made as pickle makes sklearn estimators: GLOBAL, (), NEWOBJ."""
    return glob(module, name) + pickle.EMPTY_TUPLE + pickle.NEWOBJ


COMPRESSORS = {
    "zlib": lambda b: zlib.compress(b, 9),
    "gzip": lambda b: gzip.compress(b, 9, mtime=0),
    "bz2": lambda b: bz2.compress(b, 9),
    "xz": lambda b: lzma.compress(b, format=lzma.FORMAT_XZ, preset=9),
    "lzma": lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE, preset=9),
    "lz4": lambda b: lz4.frame.compress(b, compression_level=16),
}


def exec_cases() -> None:
    """Code-execution attempts: the allow-list must refuse every one, and the marker file never appears."""
    arg = pickle.STRING + repr(TOUCH).encode() + b"\n"
    call = pickle.MARK + arg + pickle.TUPLE + pickle.REDUCE + pickle.STOP
    raw = {
        "exec_os_system": glob("os", "system") + call,
        "exec_posix_system": glob("posix", "system") + call,
        "exec_nt_system": glob("nt", "system") + call,
        "exec_subprocess": glob("subprocess", "check_call") + pickle.MARK + pickle.MARK
        + b"S'touch'\nS'" + MARKER.encode() + b"'\n" + pickle.LIST + pickle.TUPLE + pickle.REDUCE + pickle.STOP,
        "exec_builtins_eval": glob("builtins", "eval") + pickle.MARK
        + pickle.STRING + repr(f"__import__('os').system({TOUCH!r})").encode() + b"\n" + pickle.TUPLE
        + pickle.REDUCE + pickle.STOP,
        "exec_py2_builtin_exec": glob("__builtin__", "exec") + pickle.MARK
        + pickle.STRING + repr(f"import os; os.system({TOUCH!r})").encode() + b"\n" + pickle.TUPLE
        + pickle.REDUCE + pickle.STOP,
        "exec_builtins_getattr": glob("builtins", "getattr") + pickle.MARK + glob("builtins", "__import__")
        + pickle.MARK + b"S'os'\n" + pickle.TUPLE + pickle.REDUCE + b"S'system'\n" + pickle.TUPLE + pickle.REDUCE
        + pickle.MARK + arg + pickle.TUPLE + pickle.REDUCE + pickle.STOP,
        "exec_stack_global": P4 + ustr("os") + ustr("system") + pickle.STACK_GLOBAL + ustr(TOUCH)
        + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP,
        "exec_inst": pickle.MARK + arg + pickle.INST + b"os\nsystem\n" + pickle.STOP,
        "exec_obj": pickle.MARK + glob("os", "system") + arg + pickle.OBJ + pickle.STOP,
        "exec_newobj_ex": P4 + glob("os", "system") + ustr(TOUCH) + pickle.TUPLE1 + pickle.EMPTY_DICT
        + pickle.NEWOBJ_EX + pickle.STOP,
        "exec_copyreg": glob("copyreg", "_reconstructor") + pickle.MARK + glob("os", "system")
        + glob("builtins", "object") + pickle.NONE + pickle.TUPLE + pickle.REDUCE + pickle.STOP,
        "exec_functools_partial": glob("functools", "partial") + pickle.MARK + glob("os", "system") + arg
        + pickle.TUPLE + pickle.REDUCE + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.STOP,
        "exec_operator_methodcaller": glob("operator", "methodcaller") + pickle.MARK + b"S'system'\n" + arg
        + pickle.TUPLE + pickle.REDUCE + pickle.STOP,
        "exec_numpy_runstring": glob("numpy.testing._private.utils", "runstring") + pickle.MARK
        + pickle.STRING + repr(f"import os; os.system({TOUCH!r})").encode() + b"\n" + pickle.EMPTY_DICT
        + pickle.TUPLE + pickle.REDUCE + pickle.STOP,
        "exec_numpy_load": glob("numpy", "load") + pickle.MARK + b"S'/etc/passwd'\n" + pickle.TUPLE
        + pickle.REDUCE + pickle.STOP,
        "exec_joblib_load": glob("joblib", "load") + pickle.MARK + b"S'/etc/passwd'\n" + pickle.TUPLE
        + pickle.REDUCE + pickle.STOP,
        # The call hidden in a pipeline step's state, where a loader that builds objects lazily might run it.
        "exec_in_pipeline_tokenizer": P2 + obj("sklearn.pipeline", "Pipeline") + pickle.EMPTY_DICT + ustr("steps")
        + pickle.MARK + pickle.MARK + ustr("vec") + obj("sklearn.feature_extraction.text", "TfidfVectorizer")
        + pickle.EMPTY_DICT + ustr("tokenizer") + glob("os", "system") + arg + pickle.TUPLE1 + pickle.REDUCE
        + pickle.SETITEM + pickle.BUILD + pickle.TUPLE + pickle.LIST + pickle.SETITEM + pickle.BUILD + pickle.STOP,
    }
    for name, data in raw.items():
        add(name, "exec", f"{name[5:]} called from a pickle", {"model.pkl": data})
    add("exec_os_system_zlib", "exec", "os.system in a zlib-compressed joblib file",
        {"model.joblib": COMPRESSORS["zlib"](raw["exec_os_system"])})


def cycle_cases() -> None:
    """Estimators that contain themselves, made with real scikit-learn objects (pickle's memo keeps the cycle)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    texts = ["good movie", "bad movie", "great film", "awful film", "good good", "bad bad"] * 3
    labels = ["pos", "neg"] * 9

    def fitted():
        return Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())]).fit(texts, labels)

    def dump(name, what, value, also=None):
        d = CORPUS / name
        d.mkdir(parents=True)
        pickle.dump(value, open(d / "model.pkl", "wb"), protocol=pickle.HIGHEST_PROTOCOL)
        cases.append({"name": name, "group": "cycle", "what": what, "artifact": "model.pkl", "manifest": False,
                      "reader": True, "expect": EXPECT["cycle"] + ("|" + also if also else "")})

    gs = GridSearchCV(fitted(), {"clf__C": [1.0]})
    gs.best_estimator_ = gs
    dump("cycle_grid_best_self", "GridSearchCV whose best_estimator_ is itself", gs)

    p = fitted()
    p.steps = [("tfidf", p.steps[0][1]), ("me", p)]
    dump("cycle_pipeline_last_step_self", "Pipeline whose classifier step is the pipeline", p)

    p = fitted()
    p.steps = [("me", p), ("clf", p.steps[1][1])]
    dump("cycle_pipeline_first_step_self", "Pipeline whose first step is the pipeline", p)

    p = fitted()
    u = FeatureUnion([("words", p.steps[0][1])])
    u.transformer_list.append(("me", u))
    p.steps = [("union", u), ("clf", p.steps[1][1])]
    dump("cycle_union_self", "FeatureUnion that lists itself", p)

    p = fitted()
    gs = GridSearchCV(p, {"clf__C": [1.0]})
    gs.best_estimator_ = Pipeline([("tfidf", p.steps[0][1]), ("search", gs)])
    dump("cycle_grid_pipeline_grid", "GridSearchCV → Pipeline → the same GridSearchCV", gs)

    cal = Pipeline([("tfidf", TfidfVectorizer()),
                    ("clf", CalibratedClassifierCV(LinearSVC(), cv=3))]).fit(texts, labels)
    inner = cal.steps[1][1].calibrated_classifiers_[0]
    inner.estimator = cal.steps[1][1]
    dump("cycle_calibrated_self", "CalibratedClassifierCV whose calibrated classifier's estimator is itself", cal)

    p = fitted()
    p.steps[1][1].classes_ = np.empty(2, dtype=object)
    p.steps[1][1].classes_[0] = p.steps[1][1].classes_
    p.steps[1][1].classes_[1] = "x"
    # The reader never follows the cycle: an array is not a label.
    dump("cycle_object_array_self", "classes_, an object array that holds itself", p, also="unsupported label")

    p = fitted()
    p.steps[0][1].vocabulary_ = {"good": p.steps[0][1].vocabulary_}
    p.steps[0][1].vocabulary_["self"] = p.steps[0][1].vocabulary_
    # The reader never follows the cycle: a dict is not a column index.
    dump("cycle_vocabulary_self", "a vocabulary_ dict that holds itself", p, also="not a column index")

    # Hand-made: containers that hold themselves where Python could not build them as keys. The last element
    # of each is the other refusal that is right: a bare list or dict is not a model, a list is not hashable,
    # a Pipeline whose only step is itself has no vectorizer.
    raw = {
        "cycle_list_self_top": ("a list that contains itself, as the whole file",
                                P2 + pickle.EMPTY_LIST + put(0) + get(0) + pickle.APPEND + pickle.STOP, "not supported"),
        "cycle_dict_self_top": ("a dict that contains itself, as the whole file",
                                P2 + pickle.EMPTY_DICT + put(0) + ustr("me") + get(0) + pickle.SETITEM + pickle.STOP, "not supported"),
        "cycle_list_self_in_tuple_key": ("a dict keyed by a tuple holding a list that contains itself",
                                         P2 + pickle.EMPTY_DICT + pickle.EMPTY_LIST + put(0) + get(0) + pickle.APPEND
                                         + pickle.TUPLE1 + pickle.NONE + pickle.SETITEM + pickle.STOP, "unhashable"),
        "cycle_list_self_in_frozenset": ("a frozenset holding a tuple holding a list that contains itself",
                                         P4 + pickle.MARK + pickle.EMPTY_LIST + put(0) + get(0) + pickle.APPEND
                                         + pickle.TUPLE1 + pickle.FROZENSET + pickle.STOP, "unhashable"),
        "cycle_object_state_self": ("an estimator whose state dict holds the estimator under every key",
                                    P2 + obj("sklearn.pipeline", "Pipeline") + put(0) + pickle.EMPTY_DICT
                                    + ustr("steps") + pickle.MARK + pickle.MARK + ustr("a") + get(0) + pickle.TUPLE
                                    + pickle.LIST + pickle.SETITEM + pickle.BUILD + pickle.STOP, "no vectorizer"),
    }
    for name, (what, data, also) in raw.items():
        add(name, "cycle", what, {"model.pkl": data}, expect=EXPECT["cycle"] + "|" + also)


def deep_cases() -> None:
    """Acyclic but deep object graphs, built through the memo so the stream itself is flat."""
    gs = glob("sklearn.model_selection._search", "GridSearchCV")
    n = 100_000
    out = bytearray(P4 + gs + put(0) + pickle.POP + ustr("best_estimator_") + put(1) + pickle.POP)
    out += get(0) + pickle.EMPTY_TUPLE + pickle.NEWOBJ + put(2) + pickle.POP  # the innermost
    for _ in range(n):
        out += get(0) + pickle.EMPTY_TUPLE + pickle.NEWOBJ + pickle.EMPTY_DICT + get(1) + get(2) + pickle.SETITEM
        out += pickle.BUILD + put(2) + pickle.POP
    out += get(2) + pickle.STOP
    add("deep_best_estimator_100k", "deep", f"{n:,} GridSearchCVs nested through best_estimator_ ({len(out) >> 20} MB, zlib)",
        {"model.joblib": COMPRESSORS["zlib"](bytes(out))})

    pipe = glob("sklearn.pipeline", "Pipeline")
    n = 60_000
    out = bytearray(P4 + pipe + put(0) + pickle.POP + ustr("steps") + put(1) + pickle.POP + ustr("s") + put(3)
                    + pickle.POP + pickle.NONE + put(2) + pickle.POP)
    for _ in range(n):
        out += get(0) + pickle.EMPTY_TUPLE + pickle.NEWOBJ + pickle.EMPTY_DICT + get(1) + get(3) + get(2)
        out += pickle.TUPLE2 + pickle.TUPLE1 + pickle.SETITEM + pickle.BUILD + put(2) + pickle.POP
    out += get(2) + pickle.STOP
    add("deep_pipeline_60k", "deep", f"{n:,} Pipelines, each the only step of the next (zlib)",
        {"model.joblib": COMPRESSORS["zlib"](bytes(out))})

    n = 5_000_000
    data = P2 + pickle.EMPTY_DICT + pickle.NONE + pickle.TUPLE1 * n + pickle.NONE + pickle.SETITEM + pickle.STOP
    add("deep_tuple_key_5m", "deep", f"a dict keyed by a tuple nested {n:,} deep (zlib)",
        {"model.joblib": COMPRESSORS["zlib"](data)})

    n = 2_000_000
    data = P2 + pickle.NONE + pickle.TUPLE1 * n + pickle.STOP
    add("deep_tuple_top_2m", "deep", f"a tuple nested {n:,} deep as the whole file (zlib)",
        {"model.joblib": COMPRESSORS["zlib"](data)})

    n = 1_000_000
    out = bytearray(P2 + pickle.NONE + put(0) + pickle.POP)
    for _ in range(n):
        out += pickle.EMPTY_LIST + get(0) + pickle.APPEND + put(0) + pickle.POP
    out += get(0) + pickle.STOP
    add("deep_list_top_1m", "deep", f"lists nested {n:,} deep (zlib)", {"model.joblib": COMPRESSORS["zlib"](bytes(out))})

    n = 1_000_000
    out = bytearray(P2 + pickle.NONE + put(0) + pickle.POP)
    for _ in range(n):
        out += pickle.EMPTY_DICT + ustr("k") + get(0) + pickle.SETITEM + put(0) + pickle.POP
    out += get(0) + pickle.STOP
    add("deep_dict_top_1m", "deep", f"dicts nested {n:,} deep (zlib)", {"model.joblib": COMPRESSORS["zlib"](bytes(out))})

    add("deep_marks_1m", "deep", "a million MARKs", {"model.joblib": COMPRESSORS["zlib"](P2 + pickle.MARK * 1_000_000)})


def bomb_cases() -> None:
    """Memory bombs through every compression joblib reads, and a raw form of each."""
    one_byte = {"emptydict": pickle.EMPTY_DICT, "emptylist": pickle.EMPTY_LIST, "emptytuple": pickle.EMPTY_TUPLE,
                "none": pickle.NONE, "emptyset": pickle.EMPTY_SET}
    for kind, op in one_byte.items():
        add(f"bomb_{kind}_raw", "bomb", f"200,000 {kind} opcodes, uncompressed",
            {"model.pkl": P4 + op * 200_000 + pickle.STOP}, expect=EXPECT["bomb"] + "|not a text pipeline|not supported")
        data = P4 + op * 30_000_000 + pickle.STOP
        for comp in (["zlib", "gzip", "bz2", "xz", "lzma", "lz4"] if kind == "emptydict" else ["zlib"]):
            add(f"bomb_{kind}_{comp}", "bomb", f"30M {kind} opcodes, {comp}", {"model.joblib": COMPRESSORS[comp](data)})
    memo = P4 + pickle.EMPTY_DICT + (pickle.MEMOIZE + pickle.EMPTY_LIST) * 10_000_000 + pickle.STOP
    add("bomb_memoize_zlib", "bomb", "10M lists each kept in the memo, zlib", {"model.joblib": COMPRESSORS["zlib"](memo)})
    size = 256 << 20
    big = {
        "bytes": P4 + pickle.BINBYTES8 + struct.pack("<Q", size) + bytes(size) + pickle.STOP,
        "str": P4 + pickle.BINUNICODE8 + struct.pack("<Q", size) + b"a" * size + pickle.STOP,
    }
    for kind, data in big.items():
        for comp in ["zlib", "gzip", "bz2", "xz", "lzma", "lz4"] if kind == "bytes" else ["zlib", "bz2", "xz"]:
            add(f"bomb_{kind}256m_{comp}", "bomb", f"one 256 MB {kind}, {comp}", {"model.joblib": COMPRESSORS[comp](data)})
        add(f"bomb_{kind}256m_claimed", "bomb", f"a {kind} that claims 256 MB and brings 64 KB",
            {"model.pkl": data[: 64 << 10]}, expect=EXPECT["bomb"] + "|" + EXPECT["malformed"])
    # Many medium strings, each under any per-object limit, adding up past the budget.
    chunk = 4 << 20
    many = P4 + (pickle.BINUNICODE + struct.pack("<I", chunk) + b"b" * chunk) * 128 + pickle.STOP
    add("bomb_str_4m_x128_zlib", "bomb", "128 strings of 4 MB (512 MB), zlib", {"model.joblib": COMPRESSORS["zlib"](many)})
    # A list grown by APPEND of one memoized 1 MB string 10M times costs only pointers: still bounded.
    s = 1 << 20
    app = P4 + pickle.EMPTY_LIST + pickle.BINUNICODE + struct.pack("<I", s) + b"c" * s + put(0) + pickle.APPEND
    app += (get(0) + pickle.APPEND) * 10_000_000 + pickle.STOP
    add("bomb_append_memo_zlib", "bomb", "one 1 MB string appended 10M times through the memo, zlib",
        {"model.joblib": COMPRESSORS["zlib"](app)})
    # Arrays that claim far more than the stream holds.
    recon = glob("numpy.core.multiarray", "_reconstruct")
    nd = glob("numpy", "ndarray")
    dt = glob("numpy", "dtype") + ustr("f8") + pickle.NEWFALSE + pickle.NEWTRUE + pickle.TUPLE3 + pickle.REDUCE
    dt += pickle.MARK + pickle.BININT1 + b"\x03" + ustr("<") + pickle.NONE + pickle.NONE + pickle.NONE
    dt += pickle.BININT + struct.pack("<i", -1) + pickle.BININT + struct.pack("<i", -1) + pickle.BININT1 + b"\x00"
    dt += pickle.TUPLE + pickle.BUILD

    def array(shape: tuple, payload: bytes) -> bytes:
        a = P2 + recon + nd + pickle.BININT1 + b"\x00" + pickle.TUPLE1 + ustr("b") + pickle.TUPLE3 + pickle.REDUCE
        a += pickle.MARK + pickle.BININT1 + b"\x01" + pickle.MARK
        for d in shape:
            a += pickle.LONG1 + bytes([8]) + struct.pack("<q", d)
        a += pickle.TUPLE + dt + pickle.NEWFALSE + pickle.SHORT_BINBYTES + bytes([len(payload)]) + payload
        a += pickle.TUPLE + pickle.BUILD + pickle.STOP
        return a

    add("bomb_ndarray_claims_8gb", "bomb", "a numpy array of shape (2**30,) float64 with 8 bytes of data",
        {"model.pkl": array((1 << 30,), bytes(8))}, expect=EXPECT["bomb"] + "|" + EXPECT["malformed"] + "|shape|size")
    add("bomb_ndarray_shape_overflow", "bomb", "a numpy array whose shape's product overflows int64",
        {"model.pkl": array((1 << 62, 1 << 62), bytes(8))}, expect=EXPECT["bomb"] + "|" + EXPECT["malformed"] + "|shape|size|overflow")
    wrapper = glob("joblib.numpy_pickle", "NumpyArrayWrapper")
    w = P2 + wrapper + pickle.EMPTY_TUPLE + pickle.NEWOBJ + pickle.EMPTY_DICT
    w += ustr("subclass") + nd + pickle.SETITEM + ustr("shape") + pickle.LONG1 + bytes([8])
    w += struct.pack("<q", 1 << 40) + pickle.TUPLE1 + pickle.SETITEM
    w += ustr("order") + ustr("C") + pickle.SETITEM + ustr("dtype") + dt + pickle.SETITEM
    w += ustr("allow_mmap") + pickle.NEWFALSE + pickle.SETITEM + pickle.BUILD
    w += b"\x08" + b"\xff" * 8 + bytes(64 << 10)
    add("bomb_joblib_array_claims_8tb", "bomb", "a joblib array wrapper of 2**40 float64 followed by 64 KB, zlib",
        {"model.joblib": COMPRESSORS["zlib"](w + pickle.STOP)}, expect=EXPECT["bomb"] + "|" + EXPECT["malformed"] + "|shape|size")


def cpu_cases() -> None:
    """Inputs that are small and cheap to store but expensive to decode."""
    digits = b"9" * 1_000_000
    ints = P2 + (pickle.INT + digits + b"\n" + pickle.POP) * 20 + pickle.NONE + pickle.STOP
    add("cpu_int_text_1m_digits", "cpu", "20 INT opcodes of 1M decimal digits each, zlib",
        {"model.joblib": COMPRESSORS["zlib"](ints)})
    longs = P2 + (pickle.LONG + digits + b"L\n" + pickle.POP) * 20 + pickle.NONE + pickle.STOP
    add("cpu_long_text_1m_digits", "cpu", "20 LONG opcodes of 1M decimal digits each, zlib",
        {"model.joblib": COMPRESSORS["zlib"](longs)})
    add("cpu_int_text_5k_digits_raw", "cpu", "an INT of 5,000 digits (Python's own limit is 4,300)",
        {"model.pkl": P2 + pickle.INT + b"7" * 5000 + b"\n" + pickle.STOP})
    floats = P2 + (pickle.FLOAT + b"1." + digits + b"\n" + pickle.POP) * 20 + pickle.NONE + pickle.STOP
    add("cpu_float_text_1m_digits", "cpu", "20 FLOAT opcodes of 1M digits each, zlib",
        {"model.joblib": COMPRESSORS["zlib"](floats)}, expect=EXPECT["cpu"] + "|float")
    key = 1 << 20
    amp = P4 + pickle.BINUNICODE + struct.pack("<I", key) + b"k" * key + put(0) + pickle.POP + pickle.EMPTY_DICT
    amp += (get(0) + pickle.NONE + pickle.SETITEM) * 100_000 + pickle.STOP
    add("cpu_hash_big_key_reused", "cpu", "one 1 MB dict key set 100,000 times through the memo, zlib",
        {"model.joblib": COMPRESSORS["zlib"](amp)})
    part = 64 << 10
    tup = P4 + pickle.BINUNICODE + struct.pack("<I", part) + b"t" * part + put(0) + pickle.POP
    tup += pickle.MARK + get(0) * 1000 + pickle.TUPLE + put(1) + pickle.POP + pickle.EMPTY_DICT
    tup += (get(1) + pickle.NONE + pickle.SETITEM) * 20_000 + pickle.STOP
    add("cpu_hash_tuple_key_reused", "cpu", "a tuple of 1,000 × one 64 KB string as a dict key, set 20,000 times, zlib",
        {"model.joblib": COMPRESSORS["zlib"](tup)})
    fs = P4 + pickle.BINUNICODE + struct.pack("<I", part) + b"f" * part + put(0) + pickle.POP
    fs += pickle.MARK + get(0) * 1000 + pickle.TUPLE + put(1) + pickle.POP
    fs += (pickle.MARK + get(1) + pickle.FROZENSET + pickle.POP) * 20_000 + pickle.NONE + pickle.STOP
    add("cpu_hash_frozenset_reused", "cpu", "20,000 frozensets of a tuple of 1,000 × one 64 KB string, zlib",
        {"model.joblib": COMPRESSORS["zlib"](fs)})
    nest = P4 + pickle.BINUNICODE + struct.pack("<I", part) + b"n" * part + put(0) + pickle.POP
    nest += get(0)
    for i in range(1, 40):
        nest += put(i) + get(i) + pickle.TUPLE2  # each level holds the previous one twice: 2**40 leaves
    nest += put(40) + pickle.POP + pickle.EMPTY_DICT + get(40) + pickle.NONE + pickle.SETITEM + pickle.STOP
    add("cpu_hash_doubling_tuple_key", "cpu", "a dict key made of tuples that hold the level below twice (2**40 leaves)",
        {"model.pkl": nest})
    frames = P4 + (pickle.FRAME + struct.pack("<Q", 1 << 62)) * 100_000 + pickle.NONE + pickle.STOP
    add("cpu_frame_claims", "cpu", "100,000 FRAME opcodes that claim 2**62 bytes each",
        {"model.joblib": COMPRESSORS["zlib"](frames)}, expect=EXPECT["cpu"] + "|" + EXPECT["malformed"] + "|" + EXPECT["bomb"])


def malformed_cases() -> None:
    """Broken files: a clear error, nothing else."""
    good = P2 + pickle.NONE + pickle.STOP
    raw = {
        "malformed_empty": b"",
        "malformed_truncated": P2 + pickle.BINUNICODE + struct.pack("<I", 100) + b"abc",
        "malformed_opcode_ff": P2 + b"\xff" + pickle.STOP,
        "malformed_memo_missing": P2 + get(12345) + pickle.STOP,
        "malformed_stop_on_empty": P2 + pickle.STOP,
        "malformed_proto_9": pickle.PROTO + b"\x09" + good,
        "malformed_zlib_header_only": b"\x78\x9c",
        "malformed_gzip_corrupt": gzip.compress(good, mtime=0)[:-6] + b"\x00" * 6,
        "malformed_lz4_truncated": lz4.frame.compress(good * 100)[:20],
        "malformed_xz_garbage": b"\xfd7zXZ\x00" + b"\x00" * 40,
    }
    for name, data in raw.items():
        add(name, "malformed", name[len("malformed_"):].replace("_", " "), {"model.joblib": data})


def nan_cases() -> None:
    """Real pipelines with one NaN or Inf planted in each numeric array the prediction reads."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Perceptron, RidgeClassifier, SGDClassifier
    from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MaxAbsScaler, StandardScaler
    from sklearn.svm import LinearSVC

    words = "good bad great awful fine poor nice nasty fun dull".split()
    texts = [f"{words[i % 10]} {words[(i * 3) % 10]} {words[(i * 7) % 10]}" for i in range(60)]
    labels = ["pos" if words.index(t.split()[0]) % 2 == 0 else "neg" for t in texts]
    labels3 = [["a", "b", "c"][i % 3] for i in range(60)]

    def tfidf():
        return TfidfVectorizer()

    pipes = {
        "lr": (Pipeline([("v", tfidf()), ("c", LogisticRegression())]), labels, [("c", "coef_"), ("c", "intercept_"), ("v", "idf_")]),
        "lr3": (Pipeline([("v", tfidf()), ("c", LogisticRegression())]), labels3, [("c", "coef_"), ("c", "intercept_")]),
        "sgd": (Pipeline([("v", tfidf()), ("c", SGDClassifier(loss="log_loss", random_state=0))]), labels,
                [("c", "coef_"), ("c", "intercept_")]),
        "svc": (Pipeline([("v", tfidf()), ("c", LinearSVC())]), labels, [("c", "coef_"), ("c", "intercept_")]),
        "ridge": (Pipeline([("v", tfidf()), ("c", RidgeClassifier())]), labels, [("c", "coef_"), ("c", "intercept_")]),
        "perceptron": (Pipeline([("v", tfidf()), ("c", Perceptron())]), labels, [("c", "coef_"), ("c", "intercept_")]),
        "mnb": (Pipeline([("v", CountVectorizer()), ("c", MultinomialNB())]), labels,
                [("c", "feature_log_prob_"), ("c", "class_log_prior_")]),
        "cnb": (Pipeline([("v", CountVectorizer()), ("c", ComplementNB())]), labels, [("c", "feature_log_prob_")]),
        "bnb": (Pipeline([("v", CountVectorizer()), ("c", BernoulliNB())]), labels,
                [("c", "feature_log_prob_"), ("c", "class_log_prior_")]),
        "tfidft": (Pipeline([("v", CountVectorizer()), ("t", TfidfTransformer()), ("c", LogisticRegression())]), labels,
                   [("t", "idf_")]),
        "svd": (Pipeline([("v", tfidf()), ("s", TruncatedSVD(n_components=3, random_state=0)), ("c", LogisticRegression())]),
                labels, [("s", "components_")]),
        "std": (Pipeline([("v", tfidf()), ("s", StandardScaler(with_mean=False)), ("c", LogisticRegression())]), labels,
                [("s", "scale_")]),
        "svdstd": (Pipeline([("v", tfidf()), ("r", TruncatedSVD(n_components=3, random_state=0)), ("s", StandardScaler()),
                             ("c", LogisticRegression())]), labels, [("s", "mean_"), ("s", "scale_")]),
    }
    for key, (pipe, y, attrs) in pipes.items():
        pipe.fit(texts, y)
        for step, attr in attrs:
            for bad, tag in ((np.nan, "nan"), (np.inf, "inf")):
                p = clone_fitted(pipe)
                est = dict(p.steps)[step]
                arr = np.array(getattr(est, attr), dtype=np.float64, copy=True)
                arr.flat[arr.size // 2] = bad
                setattr(est, attr, arr)
                name = f"nan_{key}_{attr.strip('_')}_{tag}"
                d = CORPUS / name
                d.mkdir(parents=True)
                import joblib
                joblib.dump(p, d / "model.joblib")
                cases.append({"name": name, "group": "nan", "what": f"{type(est).__name__}.{attr} holds {tag}",
                              "artifact": "model.joblib", "manifest": False, "reader": True,
                              "expect": EXPECT["nan"]})
    # Calibrators: sigmoid a_/b_ and isotonic thresholds.
    for method, attrs in (("sigmoid", ["a_", "b_"]), ("isotonic", ["X_thresholds_", "y_thresholds_"])):
        pipe = Pipeline([("v", tfidf()), ("c", CalibratedClassifierCV(LinearSVC(), cv=3, method=method))]).fit(texts, labels)
        for attr in attrs:
            p = clone_fitted(pipe)
            cal = p.steps[1][1].calibrated_classifiers_[0].calibrators[0]
            v = getattr(cal, attr)
            if np.ndim(v) == 0:
                setattr(cal, attr, float("nan"))
            else:
                arr = np.array(v, dtype=np.float64, copy=True)
                arr.flat[arr.size // 2] = np.nan
                setattr(cal, attr, arr)
            name = f"nan_calibrated_{method}_{attr.strip('_')}"
            d = CORPUS / name
            d.mkdir(parents=True)
            import joblib
            joblib.dump(p, d / "model.joblib")
            cases.append({"name": name, "group": "nan", "what": f"{type(cal).__name__}.{attr} holds nan",
                          "artifact": "model.joblib", "manifest": False, "reader": True, "expect": EXPECT["nan"]})


def clone_fitted(est):
    return pickle.loads(pickle.dumps(est))


def bounds_cases() -> None:
    """Vectorizer settings no real training run produces, that would make one text cost without bound."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.pipeline import Pipeline
    import joblib

    texts = ["good movie", "bad movie", "great film", "awful film"] * 5
    labels = ["pos", "neg"] * 10

    def dump(name, what, p):
        d = CORPUS / name
        d.mkdir(parents=True)
        joblib.dump(p, d / "model.joblib")
        cases.append({"name": name, "group": "bounds", "what": what, "artifact": "model.joblib", "manifest": False,
                      "reader": True, "expect": EXPECT["bounds"]})

    p = Pipeline([("v", HashingVectorizer(n_features=64)), ("c", SGDClassifier(random_state=0))]).fit(texts, labels)
    p.steps[0][1].ngram_range = (1, 1_000_000)
    dump("bounds_hashing_ngram_1m", "HashingVectorizer with ngram_range (1, 1000000)", p)
    p = Pipeline([("v", HashingVectorizer(n_features=64)), ("c", SGDClassifier(random_state=0))]).fit(texts, labels)
    p.steps[0][1].ngram_range = (0, 2)
    dump("bounds_hashing_ngram_zero", "HashingVectorizer with ngram_range (0, 2)", p)
    p = Pipeline([("v", HashingVectorizer(n_features=64)), ("c", SGDClassifier(random_state=0))]).fit(texts, labels)
    p.steps[0][1].ngram_range = (3, 2)
    dump("bounds_hashing_ngram_reversed", "HashingVectorizer with ngram_range (3, 2)", p)
    p = Pipeline([("v", HashingVectorizer(n_features=64)), ("c", SGDClassifier(random_state=0))]).fit(texts, labels)
    p.steps[0][1].n_features = 1 << 40
    dump("bounds_hashing_n_features_2_40", "HashingVectorizer with n_features 2**40", p)
    p = Pipeline([("v", HashingVectorizer(n_features=64, analyzer="char")), ("c", SGDClassifier(random_state=0))]).fit(texts, labels)
    p.steps[0][1].ngram_range = (1, 1_000_000)
    dump("bounds_hashing_char_ngram_1m", "HashingVectorizer(analyzer='char') with ngram_range (1, 1000000)", p)
    p = Pipeline([("v", TfidfVectorizer()), ("c", LogisticRegression())]).fit(texts, labels)
    p.steps[0][1].vocabulary_ = dict(p.steps[0][1].vocabulary_, evil=10**6)
    dump("bounds_vocabulary_index_out_of_range", "a vocabulary_ entry past the classifier's width", p)
    p = Pipeline([("v", TfidfVectorizer()), ("c", LogisticRegression())]).fit(texts, labels)
    p.steps[0][1].vocabulary_ = dict(p.steps[0][1].vocabulary_, evil=-1)
    dump("bounds_vocabulary_index_negative", "a negative vocabulary_ index", p)


def path_cases() -> None:
    """Manifests whose file keys point outside the version folder (uploads and dropped folders, not the reader)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    import io
    import joblib

    buf = io.BytesIO()
    joblib.dump(Pipeline([("v", TfidfVectorizer()), ("c", LogisticRegression())]).fit(
        ["good movie", "bad movie", "great film", "awful film"] * 5, ["pos", "neg"] * 10), buf)
    valid = buf.getvalue()
    onnx = b"\x08\x07"  # never read: the manifest is refused first
    secret = "../../../secret.txt"  # the tests put a secret file beside the repository folder
    sk = {
        "path_artifact_parent": ("artifact: ../../spam/v1/model.joblib", "another model's artifact through ../"),
        "path_artifact_absolute": ("artifact: /etc/passwd", "an absolute artifact path"),
        "path_artifact_secret": (f"artifact: {secret}", "a secret file beside the repository as the artifact"),
        "path_artifact_dotdot_inside": ("artifact: sub/../../v1/model.joblib", "a path that climbs out and back"),
    }
    for name, (line, what) in sk.items():
        add(name, "path", what, {"model.joblib": valid, "model.yaml": f"framework: sklearn\n{line}\n".encode()},
            reader=False)
    tok = "onnx:\n  tokenizer: {type: %s, %s: %s}\n  inputs:\n  - {name: input_ids, source: ids, dtype: int64}\n" \
          "  output: {name: logits, kind: logits}\nlabels: [a, b]\n"
    on = {
        "path_onnx_vocab_secret": ("regex", "vocab", secret, "an ONNX vocabulary read from a secret file"),
        "path_onnx_vocab_absolute": ("regex", "vocab", "/etc/passwd", "an ONNX vocabulary at an absolute path"),
        "path_onnx_tokenizer_json_parent": ("wordpiece", "tokenizer_json", secret,
                                            "a tokenizer.json read from a secret file"),
        "path_onnx_tokenizer_json_absolute": ("wordpiece", "tokenizer_json", "/etc/hostname",
                                              "a tokenizer.json at an absolute path"),
    }
    for name, (typ, key, path, what) in on.items():
        add(name, "path", what, {"model.onnx": onnx, "model.yaml": (
            "framework: onnx\nartifact: model.onnx\n" + tok % (typ, key, path)).encode()}, reader=False)
    two_stage = ("framework: onnx\nartifact: model.onnx\nonnx:\n  tokenizer: {type: regex, vocab: vocab.txt}\n"
                 "  inputs:\n  - {name: input_ids, source: ids, dtype: int64}\n  output: {name: embedding, kind: embedding}\n"
                 "  classifier: ../../spam/v1/model.joblib\n")
    add("path_onnx_classifier_parent", "path", "a two-stage model's classifier from another model's folder",
        {"model.onnx": onnx, "model.yaml": two_stage.encode(), "vocab.txt": b"<unk>\n<pad>\ngood\n"}, reader=False)


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir()
    for make in (exec_cases, cycle_cases, deep_cases, bomb_cases, cpu_cases, malformed_cases, nan_cases,
                 bounds_cases, path_cases):
        make()
    (HERE / "cases.json").write_text(json.dumps({"marker": MARKER, "cases": cases}, indent=1) + "\n")
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"{len(cases)} cases, {total / 1e6:.1f} MB in {CORPUS.relative_to(Path.cwd()) if CORPUS.is_relative_to(Path.cwd()) else CORPUS}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
