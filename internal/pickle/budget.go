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
	set(&opCost, 8, '(', 0x80, 0x95) // a mark, the protocol, a frame
	set(&opCost, slot, 'N', 0x88, 0x89, '2', 'g', 'h', 'j', 0x98)
	set(&opCost, scalar, 'I', 'J', 'K', 'M', 'F', 'G')
	set(&opCost, 2*scalar, 'L', 0x8a, 0x8b)
	set(&opCost, str, 'S', 'T', 'U', 'V', 'X', 0x8c, 0x8d, 'B', 'C', 0x8e, 0x96)
	set(&opCost, str, 'c', 0x93) // a Global
	set(&opCost, 48, ')', 't', 0x85, 0x86, 0x87, ']', 'l')
	set(&opCost, 160, '}', 'd', 0x8f, 0x91) // a Dict or Set with its map
	set(&opCost, 2*slot, 'a')               // a list slot, doubled as it grows
	set(&opCost, 96, 's')                   // two slots and a map entry
	set(&opCost, 48, 'p', 'q', 'r', 0x94)   // a memo slot
	set(&opCost, object, 'R', 0x81, 0x92, 'i', 'o')
	set(&opCost, 64, 'b')
	// Per item above the MARK.
	set(&itemCost, slot, 't', 'l', 'i', 'o')
	set(&itemCost, 2*slot, 'e')
	set(&itemCost, 48, 'd', 'u', 0x90, 0x91) // half an entry: slots and map
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
