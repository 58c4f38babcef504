package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/optc-dev/optc/targets"
)

// FormatVersion is the manifest format this package reads and writes.
const FormatVersion = 1

// ManifestFile is the manifest's file name inside a bundle.
const ManifestFile = "manifest.json"

// WeightsFile is the weights' file name inside a bundle.
const WeightsFile = "weights.safetensors"

// Manifest describes a bundle.
type Manifest struct {
	Format      int             `json:"format"`
	OptcVersion string          `json:"optc_version"`
	Name        string          `json:"name"`
	Source      *Source         `json:"source,omitempty"`
	Target      Target          `json:"target"`
	Pipeline    string          `json:"pipeline"`
	Emit        string          `json:"emit"`
	Inputs      []IO            `json:"inputs"`
	Outputs     []IO            `json:"outputs"`
	Bindings    []Binding       `json:"shape_bindings,omitempty"`
	FullyNative bool            `json:"fully_native"`
	Steps       []Step          `json:"steps"`
	Fallback    []Fallback      `json:"fallback,omitempty"`
	Kernels     []string        `json:"kernels,omitempty"`
	Weights     WeightsInfo     `json:"weights"`
	Files       map[string]File `json:"files"`
}

// Source identifies the model the bundle was compiled from.
type Source struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// Path is the source model's absolute path at compile time (so optc
	// bench can run the interpreter and ONNX Runtime on the same model);
	// empty in bundles written before it was recorded.
	Path string `json:"path,omitempty"`
}

// Target is the machine the code was compiled for.
type Target struct {
	Arch       string   `json:"arch"`
	Triple     string   `json:"triple"`
	CPU        string   `json:"cpu"`
	Features   string   `json:"features,omitempty"`
	Required   []string `json:"required_cpu_features,omitempty"`
	VectorBits int      `json:"vector_bits"`
}

// IO is one graph input or output: row-major, dense.
type IO struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// Binding says how a symbolic input dim was fixed at compile time.
type Binding struct {
	Input   string `json:"input"`
	Axis    int    `json:"axis"`
	Param   string `json:"param,omitempty"`
	Size    int64  `json:"size"`
	Default bool   `json:"default"`
}

// Step is a segment of the graph: native code or interpreter.
type Step struct {
	Kind    string `json:"kind"`            // "native" or "interp"
	Index   int    `json:"index,omitempty"` // native: the segment index in the library
	Symbol  string `json:"symbol,omitempty"`
	Graph   string `json:"graph,omitempty"` // interp: file with the step's graph
	Scratch int64  `json:"scratch_bytes,omitempty"`
	Inputs  []IO   `json:"inputs"`
	Outputs []IO   `json:"outputs"`
}

// Fallback is a node left to the interpreter and why.
type Fallback struct {
	Node   string `json:"node"`
	Op     string `json:"op"`
	Reason string `json:"reason"`
}

// WeightsInfo summarizes the weight file.
type WeightsInfo struct {
	Tensors int   `json:"tensors"`
	Bytes   int64 `json:"bytes"`
}

// File is a bundle file and its hash.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("open bundle %s: %w", dir, err)
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("bundle %s: %s is not valid JSON: %v", dir, ManifestFile, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("bundle %s: manifest format %d (this optc reads %d; recompile the model)", dir, m.Format, FormatVersion)
	}
	return m, nil
}

// Write writes the manifest as indented JSON.
func (m *Manifest) Write(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644)
}

// HashFile returns the hex SHA-256 of a file.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Verify checks that every file the manifest lists exists and matches
// its hash.
func (m *Manifest) Verify(dir string) error {
	for _, role := range []string{"lib", "weights", "header"} {
		f, ok := m.Files[role]
		if !ok {
			continue
		}
		p := filepath.Join(dir, f.Path)
		sum, err := HashFile(p)
		if err != nil {
			return fmt.Errorf("bundle %s: %s file: %w", dir, role, err)
		}
		if sum != f.SHA256 {
			return fmt.Errorf("bundle %s: %s does not match its manifest hash (sha256 %s, manifest says %s): the file was changed or belongs to another compile", dir, f.Path, short(sum), short(f.SHA256))
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// CheckHost returns a clear error when the bundle's code cannot run on
// this machine (another architecture, or missing CPU features).
func (m *Manifest) CheckHost() error {
	if err := targets.CheckHost(m.Target.Arch, m.Target.CPU, m.Target.Required); err != nil {
		return fmt.Errorf("bundle %s: %w", m.Name, err)
	}
	return nil
}
