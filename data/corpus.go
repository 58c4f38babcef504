package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// CorpusRule documents the split CorpusSplit implements; it is recorded in
// the manifest written beside the streams.
const CorpusRule = "files: every *.go file under $(go env GOROOT)/src whose path has no 'testdata' component; " +
	"package = the file's directory relative to src, slash-separated; " +
	"valid iff FNV-1a-32(package) mod 10 == 0, else train; " +
	"each stream is the files' bytes concatenated in sorted path order"

// CorpusSplit says which split a Go source file belongs to, given its path
// relative to GOROOT/src with slashes: "" (excluded: not a .go file, or
// under a testdata directory, whose files are fixtures rather than package
// source), "valid" (its package directory hashes to 0 mod 10 with 32-bit
// FNV-1a), or "train". Whole packages go to one side, so no held-out
// package is ever seen in training.
func CorpusSplit(rel string) string {
	if !strings.HasSuffix(rel, ".go") {
		return ""
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "testdata" {
			return ""
		}
	}
	h := fnv.New32a()
	h.Write([]byte(path.Dir(rel)))
	if h.Sum32()%10 == 0 {
		return "valid"
	}
	return "train"
}

// CorpusManifest describes written corpus streams.
type CorpusManifest struct {
	Root   string                      `json:"root"`
	Rule   string                      `json:"rule"`
	Splits map[string]*CorpusSplitInfo `json:"splits"`
}

// CorpusSplitInfo describes one stream.
type CorpusSplitInfo struct {
	File     string   `json:"file"`
	Files    int      `json:"files"`
	Bytes    int64    `json:"bytes"`
	SHA256   string   `json:"sha256"`
	Packages []string `json:"packages,omitempty"` // listed for valid only
	NumPkgs  int      `json:"num_packages"`
}

// WriteCorpus walks root (a GOROOT/src directory), splits its Go files
// with CorpusSplit and writes outDir/train.txt, outDir/valid.txt and
// outDir/manifest.json. It returns the manifest.
func WriteCorpus(root, outDir string) (*CorpusManifest, error) {
	files := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if s := CorpusSplit(rel); s != "" {
			files[s] = append(files[s], rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	if len(files["train"]) == 0 || len(files["valid"]) == 0 {
		return nil, fmt.Errorf("corpus: %s has no Go files for both splits (train %d, valid %d)", root, len(files["train"]), len(files["valid"]))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	man := &CorpusManifest{Root: root, Rule: CorpusRule, Splits: map[string]*CorpusSplitInfo{}}
	for _, split := range []string{"train", "valid"} {
		list := files[split]
		sort.Strings(list)
		info, err := corpusWriteStream(root, filepath.Join(outDir, split+".txt"), list)
		if err != nil {
			return nil, err
		}
		pkgs := map[string]bool{}
		for _, f := range list {
			pkgs[path.Dir(f)] = true
		}
		info.NumPkgs = len(pkgs)
		if split == "valid" {
			for p := range pkgs {
				info.Packages = append(info.Packages, p)
			}
			sort.Strings(info.Packages)
		}
		man.Splits[split] = info
	}
	js, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(outDir, "manifest.json"), append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	return man, nil
}

func corpusWriteStream(root, out string, list []string) (*CorpusSplitInfo, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".corpus-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	w := io.MultiWriter(tmp, h)
	var n int64
	for _, rel := range list {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			tmp.Close()
			return nil, err
		}
		m, err := io.Copy(w, f)
		f.Close()
		if err != nil {
			tmp.Close()
			return nil, fmt.Errorf("corpus: %s: %w", rel, err)
		}
		n += m
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, err
	}
	return &CorpusSplitInfo{File: filepath.Base(out), Files: len(list), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
