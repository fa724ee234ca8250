package onnx

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// External data files are mapped by ONNX Runtime, not copied, and a table
// read by a Gather (a word-embedding table) is touched a few rows at a
// time. Two pieces of advice keep the untouched rows out of memory; both
// are best effort: an error leaves the model loaded as it would be without.
//
//   - dropCached, before the session: the kernel maps page-cache folios
//     whole, so a file freshly written (cached in large folios) became
//     wholly resident on the first read of a few rows. Dropping its clean
//     cached pages makes later faults read it page by page.
//   - adviseRandom, after the session: MADV_RANDOM on ONNX Runtime's
//     mappings of the files turns off read-ahead, so a fault brings in one
//     page, not the 128 KiB around it.
//
// Measured on sentiment/v3's embedding table (11.7 MB): see the README.

// dropCached asks the kernel to drop the cached pages of each file
// (POSIX_FADV_DONTNEED), after writing back any that are dirty; pages
// mapped by a running session stay.
func dropCached(files []string) {
	for _, p := range files {
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			// Dirty pages (a file just written, an upload) are not
			// dropped: write them back first.
			_ = unix.Fdatasync(int(f.Fd()))
			_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		f.Close()
	}
}

// adviseRandom sets MADV_RANDOM on every mapping of the process that maps
// one of files (found in /proc/self/maps by device and inode), and returns
// how many it advised.
func adviseRandom(files []string) int {
	type key struct {
		dev uint64
		ino uint64
	}
	want := map[key]bool{}
	for _, p := range files {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			want[key{uint64(st.Dev), st.Ino}] = true
		}
	}
	if len(want) == 0 {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		start, end, dev, ino, ok := parseMapsLine(sc.Text())
		if !ok || !want[key{dev, ino}] {
			continue
		}
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_RANDOM); e == 0 {
			n++
		}
	}
	return n
}

// parseMapsLine reads "start-end perms offset major:minor inode path" from
// a line of /proc/self/maps.
func parseMapsLine(line string) (start, end, dev, ino uint64, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return 0, 0, 0, 0, false
	}
	lo, hi, ok1 := strings.Cut(fields[0], "-")
	major, minor, ok2 := strings.Cut(fields[3], ":")
	if !ok1 || !ok2 {
		return 0, 0, 0, 0, false
	}
	var errs [5]error
	start, errs[0] = strconv.ParseUint(lo, 16, 64)
	end, errs[1] = strconv.ParseUint(hi, 16, 64)
	ma, e2 := strconv.ParseUint(major, 16, 32)
	mi, e3 := strconv.ParseUint(minor, 16, 32)
	errs[2], errs[3] = e2, e3
	ino, errs[4] = strconv.ParseUint(fields[4], 10, 64)
	for _, e := range errs {
		if e != nil {
			return 0, 0, 0, 0, false
		}
	}
	return start, end, unix.Mkdev(uint32(ma), uint32(mi)), ino, end > start && ino != 0
}
