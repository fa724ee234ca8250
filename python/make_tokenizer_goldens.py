"""Train small Hugging Face tokenizers of every family on the repository's text and record what `tokenizers`
gives, as golden files for the Go tokenizer (internal/tokenizer, golden_test.go).

Run (from the repository root, in the venv of python/requirements-tokenizers.txt):
    /tmp/venv-tok/bin/python python/make_tokenizer_goldens.py
Writes internal/tokenizer/testdata/:
    <name>/tokenizer.json   one tokenizer per configuration below (vocabularies capped at 1-2k)
    texts.json.gz           {"heldout": [...], "hard": [...], "random": [...]} the texts encoded
    goldens/<name>.json.gz  for held-out and hard texts, every encoding in full (ids, type ids, attention mask,
                            special-tokens mask, character offsets); for the 10,000 random texts a 32-bit digest
                            of each (ids, type ids, mask, offsets: see digest()); plus one encode_batch of the
                            first held-out texts (batch padding).
Deterministic: fixed seeds, single-threaded training (RAYON_NUM_THREADS=1).
"""
import csv
import gzip
import hashlib
import json
import os
import random
import sys
import tempfile
import unicodedata

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "internal", "tokenizer", "testdata")
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"""
                  r"""|\s+(?!\S)|\s+""")


def corpus():
    texts = []
    with open(os.path.join(ROOT, "python", "data", "sentiment.csv"), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            texts.append(row["text"])
    with open(os.path.join(ROOT, "internal", "loadgen", "corpus.json"), encoding="utf-8") as f:
        texts.extend(json.load(f))
    rng = random.Random(17)
    rng.shuffle(texts)
    n = len(texts) // 5
    return texts[n:], texts[:n]


HARD = [
    "", " ", "   ", "\t", "\n", "\r\n", "a\r\nb\r\n\r\nc", "  leading spaces", "trailing spaces   ", " one", "two  spaces  here",
    "tabs\tand\nnewlines\r\nmixed", "Hello, world!", "HELLO World", "don't I'll they're we've she'd it's O'Neil 'quoted'",
    "``double quotes'' and \"straight\"", "!!!???...", "abc123def 4567 8.90 ½ ² ٣", "e\u0301te\u0301 cafe\u0301 Å Å",
    "naïve façade coöperate résumé", "İstanbul ıi ß ẞ ǅ ﬁne ﬀ", "ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ", "中文测试：你好，世界！", "日本語のテキストです。",
    "한국어 텍스트 입니다", "ภาษาไทย", "العربية نص", "हिन्दी पाठ", "Ελληνικά κείμενα", "Русский текст",
    "emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇩🇪 ❤️", "zero\u200bwidth\u200djoiner\u200c", "nbsp\u00a0here\u2003em\u3000ideo",
    "control\x00\x07\x1bchars\u0085", "rtl \u202eabc\u202c mark", "math ∑∫√∞ ≠ ≤", "<s>inside</s> tokens <pad>", "hello<mask>world",
    "un<|user|>believable", "x <mask> y  <mask>z", "[CLS] already [SEP] there [MASK]", "a-b-c--d", "word\u0301\u0302\u0303",
    "\ufeffbom at start", "surrogate-free 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚", "mixed: Straße, naïve, 東京, 😀, café!",
    "The quick brown fox jumps over the lazy dog. " * 120,
    "a" * 3000, "😀" * 400, "ab " * 1500, "語" * 1000, "\u0301" * 200, " " * 500 + "x",
]


def assigned(c, old=False):
    """Drawn characters are limited to those assigned in this Python's Unicode (14.0), and those of the pools of
    arbitrary code points to those assigned in Unicode 3.2 (unicodedata.ucd_3_2_0): tokenizers itself mixes
    Unicode versions (Rust's std is current, the unicode_categories and unicode-normalization-alignments crates
    it uses for punctuation and normalization date from Unicode 9), Go's tables are 15.0, and a character
    assigned in between reads differently to each. See internal/tokenizer/doc.go."""
    if old and unicodedata.ucd_3_2_0.category(c) == "Cn":
        return False
    return unicodedata.category(c) != "Cn"


def random_texts(n, added):
    rng = random.Random(20261205)
    pools = [
        (40, lambda: chr(rng.randint(0x20, 0x7E))),
        (8, lambda: rng.choice(" \t\n\r\u00a0\u2003\u3000\u200b")),
        (8, lambda: chr(rng.randint(0xA0, 0x24F))),
        (6, lambda: chr(rng.randint(0x300, 0x36F))),
        (6, lambda: chr(rng.randint(0x4E00, 0x4FFF))),
        (6, lambda: chr(rng.randint(0x1F300, 0x1F64F))),
        (4, lambda: rng.choice(["\u200d", "\ufe0f", "\U0001F3FD", "\U0001F1EB"])),
        (10, lambda: "old:" + chr(rng.choice([c for c in [rng.randint(0x80, 0xFFFF)] if not 0xD800 <= c <= 0xDFFF] or [0x41]))),
        (3, lambda: "old:" + chr(rng.randint(0x10000, 0x10FFFF)) if rng.random() < 0.5 else chr(rng.randint(0x0, 0x1F))),
        (3, lambda: rng.choice(added)),
    ]
    weights = [w for w, _ in pools]
    out = []
    for _ in range(n):
        k = rng.randint(0, 24)
        parts = []
        while len(parts) < k:
            c = rng.choices(pools, weights)[0][1]()
            if c.startswith("old:"):
                if assigned(c[4:], old=True):
                    parts.append(c[4:])
            elif len(c) > 1 or assigned(c):
                parts.append(c)
        out.append("".join(parts))
    return out


def specials(*names):
    return [AddedToken(s, special=True, normalized=False) for s in names]


def train(tok, trainer, texts):
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def build_all(train_texts):
    toks = {}

    # RoBERTa: byte-level BPE, RobertaProcessing (trim_offsets), <mask> with lstrip; truncation 128.
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    train(t, trainers.BpeTrainer(vocab_size=2000, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False), train_texts)
    t.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    t.post_processor = processors.RobertaProcessing(("</s>", t.token_to_id("</s>")), ("<s>", t.token_to_id("<s>")),
                                                    trim_offsets=True, add_prefix_space=False)
    t.enable_truncation(128)
    toks["roberta_bpe"] = t

    # GPT-2: byte-level BPE with add_prefix_space, ByteLevel post-processor, added tokens special and not.
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    train(t, trainers.BpeTrainer(vocab_size=1500, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False), train_texts)
    t.add_special_tokens([AddedToken("<|user|>", special=True, normalized=False)])
    t.add_tokens([AddedToken("lol", single_word=True), AddedToken(" wow", normalized=True), AddedToken("#tag", rstrip=True, normalized=False)])
    t.post_processor = processors.ByteLevel(trim_offsets=True)
    toks["gpt2_bpe"] = t

    # Llama 3: Split with its regex (lookahead tail), ByteLevel(use_regex=False), ignore_merges, Template <|begin|> $A.
    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    train(t, trainers.BpeTrainer(vocab_size=1200, special_tokens=["<|begin|>", "<|end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False), train_texts)
    t.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin|> $A", special_tokens=[("<|begin|>", t.token_to_id("<|begin|>"))])])
    toks["llama3_bpe"] = t

    # Metaspace with its own replacement, prepend_scheme never; a Sequence post-processor (trim, then template).
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Strip(left=False, right=True)])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="merged_with_previous"),
        pre_tokenizers.Metaspace(replacement="_", prepend_scheme="never", split=True)])
    train(t, trainers.BpeTrainer(vocab_size=800, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=120, show_progress=False),
          train_texts)
    t.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=True, add_prefix_space=False),
        processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])])
    toks["bpe_metaspace_never"] = t

    # Llama-2 style: Prepend + Replace normalizer, BPE with byte_fallback and fuse_unk, no pre-tokenizer.
    t = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    train(t, trainers.BpeTrainer(vocab_size=1200, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=150, show_progress=False),
          train_texts)
    t.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", t.token_to_id("<s>"))])
    j = json.loads(t.to_str())
    vocab = j["model"]["vocab"]
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    j["model"]["byte_fallback"] = True
    toks["llama2_bytefallback"] = Tokenizer.from_str(json.dumps(j))

    # BPE with continuing_subword_prefix and unk, Split behaviours, Template with type ids.
    t = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##"))
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex("[0-9]+"), "#")])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("-", behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"[,.;:]"), behavior="merged_with_next"),
        pre_tokenizers.Split(Regex(r"\s+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"[!?]+"), behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"[a-z]+"), behavior="isolated", invert=True)])
    train(t, trainers.BpeTrainer(vocab_size=1000, special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
                                  limit_alphabet=100, show_progress=False), train_texts)
    t.post_processor = processors.TemplateProcessing(single="[CLS]:1 $A:2 [SEP]:3",
                                                     special_tokens=[("[CLS]", t.token_to_id("[CLS]")), ("[SEP]", t.token_to_id("[SEP]"))])
    toks["bpe_prefix_split"] = t

    # Classic BPE with end_of_word_suffix (CLIP-like): NFC, Lowercase, Whitespace, unk.
    t = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    t.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase(), normalizers.Strip()])
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    train(t, trainers.BpeTrainer(vocab_size=1000, special_tokens=["<unk>"], end_of_word_suffix="</w>", limit_alphabet=120,
                                  show_progress=False), train_texts)
    t.enable_padding(pad_id=0, pad_token="<unk>", pad_to_multiple_of=8)
    toks["bpe_suffix"] = t

    # Unigram (tokenizers' trainer): Metaspace always, NFKC + Lowercase + StripAccents, byte_fallback, T5-like template.
    t = Tokenizer(models.Unigram())
    t.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                         normalizers.Replace(Regex(" {2,}"), " ")])
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    train(t, trainers.UnigramTrainer(vocab_size=1200, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                                     show_progress=False), train_texts)
    j = json.loads(t.to_str())
    voc = j["model"]["vocab"]
    for b in range(256):
        voc.append(["<0x%02X>" % b, 0.0])
    j["model"]["byte_fallback"] = True
    t = Tokenizer.from_str(json.dumps(j))
    t.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", t.token_to_id("</s>"))])
    toks["t5_unigram"] = t

    # Unigram with Metaspace "first", split false, Punctuation + Digits pre-tokenizers, truncation left, fixed padding left.
    t = Tokenizer(models.Unigram())
    t.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Strip(left=True, right=False)])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="contiguous"),
        pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Metaspace(prepend_scheme="first", split=False)])
    train(t, trainers.UnigramTrainer(vocab_size=800, special_tokens=["<unk>", "<cls>", "<sep>", "<pad>"], unk_token="<unk>",
                                     show_progress=False), train_texts)
    t.add_special_tokens([AddedToken("<mask>", special=True, normalized=False, lstrip=True, rstrip=True)])
    t.post_processor = processors.BertProcessing(("<sep>", t.token_to_id("<sep>")), ("<cls>", t.token_to_id("<cls>")))
    t.enable_truncation(48, direction="left")
    t.enable_padding(direction="left", pad_id=t.token_to_id("<pad>"), pad_type_id=1, pad_token="<pad>", length=56)
    toks["unigram_first"] = t

    # WordLevel: NFD, Lowercase, StripAccents; WhitespaceSplit + Punctuation; BertProcessing; padding to the longest.
    t = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    t.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(),
                                               pre_tokenizers.Digits(individual_digits=False)])
    train(t, trainers.WordLevelTrainer(vocab_size=2000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"], show_progress=False),
          train_texts)
    t.post_processor = processors.BertProcessing(("[SEP]", t.token_to_id("[SEP]")), ("[CLS]", t.token_to_id("[CLS]")))
    t.enable_padding(pad_id=0, pad_token="[PAD]")
    toks["wordlevel"] = t

    # BERT WordPiece: BertNormalizer, BertPreTokenizer, TemplateProcessing; a normalized added token.
    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    train(t, trainers.WordPieceTrainer(vocab_size=1500, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                       show_progress=False), train_texts)
    t.add_tokens([AddedToken("Hello", normalized=True)])
    t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                     special_tokens=[("[CLS]", t.token_to_id("[CLS]")), ("[SEP]", t.token_to_id("[SEP]"))])
    toks["bert_wordpiece"] = t

    toks.update(sentencepiece_tokenizers(train_texts))
    return toks


def sentencepiece_tokenizers(train_texts):
    """spm_train Unigram models and build their tokenizers as transformers' slow->fast converters do, with the
    model's real Precompiled charsmap (nmt_nfkc rules)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    out = {}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "corpus.txt")
        with open(path, "w", encoding="utf-8") as f:
            for s in train_texts:
                s = s.replace("\r", " ").replace("\n", " ").strip()
                if s:
                    f.write(s + "\n")
        for name, extra in [("xlmr_spm", dict(byte_fallback=False)), ("albert_spm", dict(byte_fallback=True))]:
            prefix = os.path.join(d, name)
            spm.SentencePieceTrainer.train(input=path, model_prefix=prefix, vocab_size=1000, model_type="unigram",
                                           character_coverage=0.9995, num_threads=1, seed_sentencepiece_size=100000,
                                           minloglevel=2, **extra)
            m = pb.ModelProto()
            with open(prefix + ".model", "rb") as f:
                m.ParseFromString(f.read())
            charsmap = m.normalizer_spec.precompiled_charsmap
            vocab = [(p.piece, p.score) for p in m.pieces]
            unk_id = m.trainer_spec.unk_id
            if name == "xlmr_spm":
                # XLM-R: <s> <pad> </s> <unk> then the pieces (fairseq offset), <mask> last.
                vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + vocab[3:] + [("<mask>", 0.0)]
                t = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
                t.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")])
                t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
                t.add_special_tokens([AddedToken("<s>", special=True, normalized=False), AddedToken("<pad>", special=True, normalized=False),
                                      AddedToken("</s>", special=True, normalized=False), AddedToken("<unk>", special=True, normalized=False),
                                      AddedToken("<mask>", special=True, normalized=False, lstrip=True)])
                t.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=False)
            else:
                # ALBERT: quotes replaced, NFKD, accents stripped, lowercased, then the charsmap; [CLS] $A [SEP].
                vocab = vocab + [("[CLS]", 0.0), ("[SEP]", 0.0), ("[MASK]", 0.0)]
                t = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=True))
                t.normalizer = normalizers.Sequence([
                    normalizers.Replace("``", '"'), normalizers.Replace("''", '"'), normalizers.NFKD(), normalizers.StripAccents(),
                    normalizers.Lowercase(), normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")])
                t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
                n = len(vocab)
                t.add_special_tokens([AddedToken("[CLS]", special=True, normalized=False), AddedToken("[SEP]", special=True, normalized=False),
                                      AddedToken("[MASK]", special=True, normalized=False, lstrip=True, rstrip=False)])
                t.post_processor = processors.TemplateProcessing(single="[CLS]:0 $A:0 [SEP]:0",
                                                                 special_tokens=[("[CLS]", n - 3), ("[SEP]", n - 2)])
                t.enable_truncation(256)
            out[name] = t
    return out


def record(enc):
    return {"ids": enc.ids, "type_ids": "".join(map(str, enc.type_ids)), "mask": "".join(map(str, enc.attention_mask)),
            "special": "".join(map(str, enc.special_tokens_mask)), "offsets": [x for o in enc.offsets for x in o]}


def digest(enc):
    """First 8 hex digits of sha256 over ids|type_ids|mask|offsets, each comma-joined; "error" when encode raised."""
    if enc is None:
        return "error"
    s = "|".join([",".join(map(str, enc.ids)), ",".join(map(str, enc.type_ids)), ",".join(map(str, enc.attention_mask)),
                  ",".join(str(x) for o in enc.offsets for x in o)])
    return hashlib.sha256(s.encode()).hexdigest()[:8]


def encode(t, s):
    try:
        return t.encode(s)
    except Exception:  # noqa: BLE001 - recorded as an expected error
        return None


def main():
    train_texts, heldout = corpus()
    heldout = heldout[:300]
    toks = build_all(train_texts)
    added = ["<mask>", "<|user|>", "lol", " wow", "#tag", "<s>", "</s>", "[CLS]", "[MASK]", "Hello", "<pad>", "<|begin|>"]
    rnd = random_texts(10000, added)
    texts = {"heldout": heldout, "hard": HARD, "random": rnd}
    os.makedirs(os.path.join(OUT, "goldens"), exist_ok=True)
    with gzip.GzipFile(os.path.join(OUT, "texts.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps(texts, ensure_ascii=False).encode())
    for name, t in sorted(toks.items()):
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(t.to_str(pretty=False))
        t = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))  # record what the file says
        g = {}
        for part in ("heldout", "hard"):
            g[part] = [None if (e := encode(t, s)) is None else record(e) for s in texts[part]]
        g["random"] = "".join(h if (h := digest(encode(t, s))) != "error" else "xxxxxxxx" for s in rnd)
        if t.padding is None:  # EncodeBatch always pads to the longest: id 0 unless the file says otherwise
            t.enable_padding(pad_id=0, pad_token="")
        g["batch"] = [record(e) for e in t.encode_batch(heldout[:8])]
        with gzip.GzipFile(os.path.join(OUT, "goldens", name + ".json.gz"), "wb", mtime=0) as f:
            f.write(json.dumps(g, separators=(",", ":")).encode())
        vs = t.get_vocab_size()
        print(f"{name}: vocab {vs}, tokenizer.json {os.path.getsize(os.path.join(d, 'tokenizer.json'))} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
