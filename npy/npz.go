package npy

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/optc-dev/optc/ir"
)

// npzTime is the fixed modification time of every member written, so that
// equal inputs give byte-identical archives (the zip epoch, 1980-01-01).
var npzTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// ReadNPZ reads every array of an .npz file. It returns the arrays by key
// (the member name without ".npy") and the keys sorted.
func ReadNPZ(path string) (map[string]*ir.Tensor, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	m, names, err := ReadNPZFrom(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%w (reading %s)", err, path)
	}
	return m, names, nil
}

// ReadNPZFrom reads an .npz archive of the given size from r.
func ReadNPZFrom(r io.ReaderAt, size int64) (map[string]*ir.Tensor, []string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("npz: not a valid zip archive: %w", err)
	}
	m := make(map[string]*ir.Tensor, len(zr.File))
	var names []string
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue // a directory entry
		}
		key, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			return nil, nil, fmt.Errorf("npz: member %q is not a .npy array", f.Name)
		}
		if _, dup := m[key]; dup {
			return nil, nil, fmt.Errorf("npz: duplicate member %q", f.Name)
		}
		t, err := readMember(f)
		if err != nil {
			return nil, nil, fmt.Errorf("npz: member %q: %w", f.Name, err)
		}
		m[key] = t
		names = append(names, key)
	}
	sort.Strings(names)
	return m, names, nil
}

func readMember(f *zip.File) (*ir.Tensor, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// zip's reader checks the CRC-32 when the member is read to its end;
	// readAll reads one byte past the array so the check runs.
	return readAll(bufio.NewReaderSize(rc, 1<<16))
}

// WriteNPZ writes arrays to an .npz file with stored (uncompressed)
// members, like numpy.savez. The file is replaced atomically.
func WriteNPZ(path string, arrays map[string]*ir.Tensor) error {
	return writeAtomic(path, func(w io.Writer) error { return WriteNPZTo(w, arrays, false) })
}

// WriteNPZCompressed is WriteNPZ with deflated members, like
// numpy.savez_compressed.
func WriteNPZCompressed(path string, arrays map[string]*ir.Tensor) error {
	return writeAtomic(path, func(w io.Writer) error { return WriteNPZTo(w, arrays, true) })
}

// WriteNPZTo writes an .npz archive to w: one member "<key>.npy" per
// array, in sorted key order, with a fixed timestamp; deflated when
// compress is set.
func WriteNPZTo(w io.Writer, arrays map[string]*ir.Tensor, compress bool) error {
	keys := make([]string, 0, len(arrays))
	for k := range arrays {
		if k == "" || strings.ContainsRune(k, 0) {
			return fmt.Errorf("npz: invalid array name %q", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	zw := zip.NewWriter(w)
	method := zip.Store
	if compress {
		method = zip.Deflate
	}
	for _, k := range keys {
		hdr, body, err := encode(arrays[k])
		if err != nil {
			return fmt.Errorf("npz: array %q: %w", k, err)
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: k + ".npy", Method: method, Modified: npzTime})
		if err != nil {
			return err
		}
		if _, err := fw.Write(hdr); err != nil {
			return err
		}
		if _, err := fw.Write(body); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return errors.Join(errors.New("npz: finishing the archive"), err)
	}
	return nil
}
