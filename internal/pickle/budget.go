package pickle

import "math/big"

// The memory estimate behind Options.MaxMemory. Each opcode is charged,
// before it runs, what the value it creates or stores costs in Go memory
// on a 64-bit machine: the interface slot on the stack, in a container or
// in the memo (16 bytes), the header the value is boxed in, and the
// amortised growth of the slice or map it is appended to. The bytes an
// opcode reads (a string's, an array's) count separately, once, as read.
// The figures are rounded up from what runtime.MemStats shows for a
// million of each; they need to be realistic, not exact: their point is
// that a one-byte opcode which makes Go allocate 160 bytes (EMPTY_DICT)
// is charged 160, not 1.
var opCost, itemCost [256]uint16

func init() {
	const (
		slot   = 16  // an interface value on the stack
		scalar = 24  // a boxed int64 or float64 in its slot
		str    = 48  // a string or []byte header, boxed, in its slot
		object = 192 // an *Object with its Class, Args and State
	)
	set := func(table *[256]uint16, cost uint16, ops ...byte) {
		for _, op := range ops {
			table[op] = cost
		}
	}
	set(&opCost, 8, opMARK, opPROTO, opFRAME)
	set(&opCost, slot, opNONE, opNEWTRUE, opNEWFALSE, opDUP, opGET, opBINGET, opLONG_BINGET, opREADONLY_BUFFER)
	set(&opCost, scalar, opINT, opBININT, opBININT1, opBININT2, opFLOAT, opBINFLOAT)
	set(&opCost, 2*scalar, opLONG, opLONG1, opLONG4)
	set(&opCost, str, opSTRING, opBINSTRING, opSHORT_BINSTRING, opUNICODE, opBINUNICODE, opSHORT_BINUNICODE,
		opBINUNICODE8, opBINBYTES, opSHORT_BINBYTES, opBINBYTES8, opBYTEARRAY8)
	set(&opCost, str, opGLOBAL, opSTACK_GLOBAL) // a Global
	set(&opCost, 48, opEMPTY_TUPLE, opTUPLE, opTUPLE1, opTUPLE2, opTUPLE3, opEMPTY_LIST, opLIST)
	set(&opCost, 160, opEMPTY_DICT, opDICT, opEMPTY_SET, opFROZENSET) // a Dict or Set with its map
	set(&opCost, 2*slot, opAPPEND)                                    // a list slot, doubled as it grows
	set(&opCost, 96, opSETITEM)                                       // two slots and a map entry
	set(&opCost, 48, opPUT, opBINPUT, opLONG_BINPUT, opMEMOIZE)       // a memo slot
	set(&opCost, object, opREDUCE, opNEWOBJ, opNEWOBJ_EX, opINST, opOBJ)
	set(&opCost, 64, opBUILD)
	// Per item above the MARK.
	set(&itemCost, slot, opTUPLE, opLIST, opINST, opOBJ)
	set(&itemCost, 2*slot, opAPPENDS)
	set(&itemCost, 48, opDICT, opSETITEMS, opADDITEMS, opFROZENSET) // half an entry: slots and map
}

// keyCost is the work of hashing k as a dict key or set item: about the
// bytes writeKey writes for it. A tuple's cost is its items' summed, up to
// a little over maxKeyBytes, past which writeKey refuses the key anyway;
// the walk is bounded by maxKeyDepth and by that sum.
func keyCost(k any, depth int) int64 {
	switch v := k.(type) {
	case string:
		return int64(len(v)) + 8
	case []byte:
		return int64(len(v)) + 16
	case *big.Int:
		return int64(v.BitLen()/4) + 16
	case Tuple:
		c := int64(16)
		if depth > maxKeyDepth {
			return c
		}
		for _, e := range v {
			c += keyCost(e, depth+1)
			if c > 2*maxKeyBytes {
				break
			}
		}
		return c
	}
	return 8
}
