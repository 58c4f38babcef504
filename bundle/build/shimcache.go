package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"

	"github.com/optc-dev/optc/targets"
)

var shimMu sync.Mutex

// shimObject returns the compiled runtime shim for tc's target. The object
// depends only on the shim source, the C compiler and the triple, so it is
// cached under the user cache directory (optc/shim-<hash>.o); without one
// it is compiled into tmp.
func shimObject(ctx context.Context, tc *targets.Toolchain, tmp string) (string, error) {
	shimMu.Lock()
	defer shimMu.Unlock()
	h := sha256.New()
	for _, s := range []string{shimSource, tc.CC, tc.Target.Triple} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	key := hex.EncodeToString(h.Sum(nil))[:24]
	src := filepath.Join(tmp, "optc_shim.c")
	if err := os.WriteFile(src, []byte(shimSource), 0o644); err != nil {
		return "", err
	}
	local := func() (string, error) {
		obj := filepath.Join(tmp, "optc_shim.o")
		return obj, tc.CompileC(ctx, src, obj)
	}
	dir, err := os.UserCacheDir()
	if err != nil || os.MkdirAll(filepath.Join(dir, "optc"), 0o755) != nil {
		return local()
	}
	obj := filepath.Join(dir, "optc", "shim-"+key+".o")
	if _, err := os.Stat(obj); err == nil {
		return obj, nil
	}
	part, err := os.CreateTemp(filepath.Dir(obj), "shim-*.o.tmp")
	if err != nil {
		return local() // a read-only cache: compile it here
	}
	part.Close()
	if err := tc.CompileC(ctx, src, part.Name()); err != nil {
		os.Remove(part.Name())
		return "", err
	}
	if err := os.Rename(part.Name(), obj); err != nil {
		os.Remove(part.Name())
		return local()
	}
	return obj, nil
}
