package pickle

// The opcodes of the pickle machine, named as CPython's pickletools names
// them (Lib/pickle.py defines the same bytes), with the protocol that
// introduced each. A program is a sequence of opcodes, each followed by
// its operand if it has one; STOP ends it. ops.go runs them, family by
// family; budget.go prices them.
const (
	// Stack, marks and framing.
	opMARK     byte = '('  // 0: push a mark; the opcodes that take "the items above the mark" pop up to it
	opSTOP     byte = '.'  // 0: end of the program; the value on top of the stack is the result
	opPOP      byte = '0'  // 0: discard the top item (or, as Python does, a mark on top)
	opPOP_MARK byte = '1'  // 1: discard the items above the topmost mark, and the mark
	opDUP      byte = '2'  // 0: push the top item again
	opPROTO    byte = 0x80 // 2: the protocol version, one byte; written first
	opFRAME    byte = 0x95 // 4: an 8-byte length hint for the opcodes that follow; nothing to run

	// Numbers and constants.
	opNONE     byte = 'N'  // 0: push None
	opNEWTRUE  byte = 0x88 // 2: push True
	opNEWFALSE byte = 0x89 // 2: push False
	opINT      byte = 'I'  // 0: a decimal int on a line ("00"/"01" are False/True)
	opBININT   byte = 'J'  // 1: a 4-byte signed little-endian int
	opBININT1  byte = 'K'  // 1: a 1-byte unsigned int
	opBININT2  byte = 'M'  // 1: a 2-byte unsigned little-endian int
	opLONG     byte = 'L'  // 0: a decimal int on a line, with an optional trailing 'L'
	opLONG1    byte = 0x8a // 2: a two's-complement little-endian int, 1-byte length
	opLONG4    byte = 0x8b // 2: a two's-complement little-endian int, 4-byte length
	opFLOAT    byte = 'F'  // 0: a float as decimal text on a line
	opBINFLOAT byte = 'G'  // 1: an 8-byte big-endian IEEE 754 float

	// Strings and bytes.
	opSTRING           byte = 'S'  // 0: a quoted Python 2 str literal on a line
	opBINSTRING        byte = 'T'  // 1: a Python 2 str, 4-byte signed length
	opSHORT_BINSTRING  byte = 'U'  // 1: a Python 2 str, 1-byte length
	opUNICODE          byte = 'V'  // 0: a str in raw-unicode-escape on a line
	opBINUNICODE       byte = 'X'  // 1: a UTF-8 str, 4-byte length
	opSHORT_BINUNICODE byte = 0x8c // 4: a UTF-8 str, 1-byte length
	opBINUNICODE8      byte = 0x8d // 4: a UTF-8 str, 8-byte length
	opBINBYTES         byte = 'B'  // 3: bytes, 4-byte length
	opSHORT_BINBYTES   byte = 'C'  // 3: bytes, 1-byte length
	opBINBYTES8        byte = 0x8e // 4: bytes, 8-byte length
	opBYTEARRAY8       byte = 0x96 // 5: a bytearray, 8-byte length
	opNEXT_BUFFER      byte = 0x97 // 5: push the next out-of-band buffer (refused)
	opREADONLY_BUFFER  byte = 0x98 // 5: make the buffer on top read-only

	// Containers.
	opEMPTY_TUPLE byte = ')'  // 1: push ()
	opTUPLE       byte = 't'  // 0: a tuple of the items above the mark
	opTUPLE1      byte = 0x85 // 2: a tuple of the top item
	opTUPLE2      byte = 0x86 // 2: a tuple of the top two items
	opTUPLE3      byte = 0x87 // 2: a tuple of the top three items
	opEMPTY_LIST  byte = ']'  // 1: push []
	opLIST        byte = 'l'  // 0: a list of the items above the mark
	opAPPEND      byte = 'a'  // 0: append the top item to the list below it
	opAPPENDS     byte = 'e'  // 1: extend the list below the mark with the items above it
	opEMPTY_DICT  byte = '}'  // 1: push {}
	opDICT        byte = 'd'  // 0: a dict of the key, value pairs above the mark
	opSETITEM     byte = 's'  // 0: dict[key] = value, with key and value on top of the dict
	opSETITEMS    byte = 'u'  // 1: add the key, value pairs above the mark to the dict below it
	opEMPTY_SET   byte = 0x8f // 4: push set()
	opADDITEMS    byte = 0x90 // 4: add the items above the mark to the set below it
	opFROZENSET   byte = 0x91 // 4: a frozenset of the items above the mark

	// Memo: a table of values the program stores and fetches again by index.
	opGET         byte = 'g'  // 0: push memo[index], the index a decimal line
	opBINGET      byte = 'h'  // 1: push memo[index], 1-byte index
	opLONG_BINGET byte = 'j'  // 1: push memo[index], 4-byte index
	opPUT         byte = 'p'  // 0: memo[index] = top, the index a decimal line
	opBINPUT      byte = 'q'  // 1: memo[index] = top, 1-byte index
	opLONG_BINPUT byte = 'r'  // 1: memo[index] = top, 4-byte index
	opMEMOIZE     byte = 0x94 // 4: memo[len(memo)] = top

	// Globals and objects: every path to Python code, through the allow-list.
	opGLOBAL       byte = 'c'  // 0: push module.name, both on lines
	opSTACK_GLOBAL byte = 0x93 // 4: push module.name, both str items on the stack
	opREDUCE       byte = 'R'  // 0: call callable(*args), args a tuple on top of it
	opNEWOBJ       byte = 0x81 // 2: cls.__new__(cls, *args), args a tuple on top of the class
	opNEWOBJ_EX    byte = 0x92 // 4: cls.__new__(cls, *args, **kwargs)
	opINST         byte = 'i'  // 0: module.name (on lines) called with the items above the mark
	opOBJ          byte = 'o'  // 1: the first item above the mark called with the rest
	opBUILD        byte = 'b'  // 0: give the object below the top item its state (__setstate__)

	// Refused: see refuse.
	opPERSID    byte = 'P'  // 0: a persistent id on a line, for the unpickler's persistent_load
	opBINPERSID byte = 'Q'  // 1: a persistent id taken from the stack
	opEXT1      byte = 0x82 // 2: a global named by a 1-byte code of the copyreg extension registry
	opEXT2      byte = 0x83 // 2: the same, 2-byte code
	opEXT4      byte = 0x84 // 2: the same, 4-byte code
)
