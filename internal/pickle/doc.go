// Package pickle reads Python pickle streams (protocols 0 to 5) without
// executing anything.
//
// A pickle is a program for a small stack machine; the dangerous part is that
// it may name any Python global (os.system, builtins.eval) and call it. Load
// runs that program in Go and resolves every global through an AllowList: a
// global that is not on the list stops decoding with a *ForbiddenError that
// names it. An allow-listed global resolves to a Handler, one of
//
//   - Func: a Go constructor called for REDUCE, NEWOBJ, NEWOBJ_EX, INST and
//     OBJ (numpy._reconstruct, numpy.dtype, _codecs.encode, ...);
//   - Class: a class without a Go counterpart; calling it yields an *Object
//     that keeps its arguments and, after BUILD, its state (scikit-learn
//     estimators arrive this way);
//   - Type: a reference only, the value is the Global itself (numpy.float64
//     stored as a vectorizer's dtype); calling it is an error.
//
// A value built by a Func may implement Stater to take BUILD, and StreamReader
// to read raw bytes that follow it in the stream (joblib's array wrappers).
//
// The threat model: the bytes come from whoever could write a model file
// or upload one, and the process that reads them serves other models. No
// stream may run code, crash the process (a stack overflow or an
// out-of-memory is fatal in Go, recover cannot catch it), or hold a core or
// the memory for long. So every cost of a load is bounded, each limit
// backed by a test named after it:
//
//   - input: Options.MaxBytes caps the bytes read (TestMaxBytes); lengths
//     are read incrementally so that a claimed length never allocates
//     more than the bytes actually present.
//   - memory: Options.MaxMemory caps the memory the decoded values hold:
//     every opcode is charged, before it runs, what the value it creates
//     or stores costs in Go (a one-byte EMPTY_DICT costs 160 bytes), and
//     the bytes read count once more (TestMaxMemory). The input stops at
//     the cap, so a decompression bomb upstream stops while it streams.
//   - integers: INT and LONG decimal texts over MaxIntDigits (4300, as in
//     Python) are refused before a quadratic conversion (TestMaxIntDigits).
//   - hashing: dict keys and set items (through SETITEM(S), ADDITEMS,
//     FROZENSET and builtins.set) are charged what hashing them costs, a
//     tuple at its items' bytes, against a multiple of the input read, so a
//     long key reused through the memo cannot amplify (TestHashWork,
//     TestKeyReuse, TestHashBlowup); one key's encoding is bounded in
//     size and depth, and a container that contains itself is unhashable,
//     never walked (TestSelfContainingKey).
//   - nesting: MARKs and nested pickles by Options.MaxDepth.
//   - time: Options.MaxSteps caps the opcodes (TestMaxSteps), and
//     LoadContext stops when its context is done, looked at every 4096
//     opcodes and between the chunks of a long read (TestLoadContext).
//
// The machine is laid out to be audited. opcodes.go names every opcode as
// CPython's pickletools does (TestOpcodeNames checks the bytes against
// CPython's table). machine.step, in vm.go, is the instruction set: one
// switch that hands each opcode to its family in ops.go: stackOp (MARK,
// POP, DUP, PROTO, FRAME), number, text (str and bytes), sequence (tuple
// and list), hashed (dict and set, where every key is charged its
// hashing work), memoOp, and object, the only way to a global: GLOBAL,
// STACK_GLOBAL and INST look the name up in the AllowList, and REDUCE,
// NEWOBJ, NEWOBJ_EX, INST and OBJ call nothing but what it resolved.
// refuse holds the opcodes that never run (persistent ids, extension
// codes, out-of-band buffers), each with the reason; any other byte is an
// unknown opcode. Before an opcode runs, account charges it: its memory
// (the tables in budget.go), a step, and every 4096 steps a look at
// MaxSteps and the context. The stack helpers (pop, pop2, popN, topAs,
// intoMark) reach only above the topmost MARK and give one error for a
// missing or mistyped item. Every operand is read through the Stream
// (stream.go), which counts it against MaxBytes and MaxMemory; literal.go
// decodes the text forms of protocol 0.
//
// Malformed or hostile input returns an error wrapping ErrMalformed,
// ErrLimit (naming the limit) or ErrForbidden; it never panics. Nothing
// here recurses on the structure of a decoded value except the key
// encoding, bounded as above.
package pickle
