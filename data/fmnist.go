package data

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"

	"github.com/optc-dev/optc/ir"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist installs the
// gzipped IDX files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses names the ten labels in order.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// LoadFashionMNIST reads the "train" (60000) or "test" (10000) split from
// dir: images as uint8 [N,28,28] and labels as uint8 [N].
func LoadFashionMNIST(dir, split string) (images, labels *ir.Tensor, err error) {
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if prefix == "" {
		return nil, nil, fmt.Errorf("fashion-mnist: unknown split %q (want train or test)", split)
	}
	images, err = ReadIDXFile(filepath.Join(dir, prefix+"-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	labels, err = ReadIDXFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	if images.DType != ir.Uint8 || images.Rank() != 3 || labels.DType != ir.Uint8 || labels.Rank() != 1 || images.Shape[0] != labels.Shape[0] {
		return nil, nil, fmt.Errorf("fashion-mnist %s: unexpected arrays images %s, labels %s", split, images, labels)
	}
	return images, labels, nil
}

// Normalize converts uint8 images [N,H,W] into float32 [N,1,H,W] scaled to
// [0,1] (x/255), and uint8 labels [N] into int64 [N]. Only the rows listed
// in rows are taken, in that order; nil means all.
func Normalize(images, labels *ir.Tensor, rows []int) (x, y *ir.Tensor) {
	n, h, w := images.Shape[0], images.Shape[1], images.Shape[2]
	if rows == nil {
		rows = make([]int, n)
		for i := range rows {
			rows[i] = i
		}
	}
	px := int(h * w)
	src, lab := images.Data.([]uint8), labels.Data.([]uint8)
	xs := make([]float32, len(rows)*px)
	ys := make([]int64, len(rows))
	for i, r := range rows {
		for j, v := range src[r*px : (r+1)*px] {
			xs[i*px+j] = float32(v) / 255
		}
		ys[i] = int64(lab[r])
	}
	x = ir.FromSlice(ir.Float32, []int64{int64(len(rows)), 1, h, w}, xs)
	y = ir.FromSlice(ir.Int64, []int64{int64(len(rows))}, ys)
	return x, y
}

// CalibSample returns k distinct row indices of an n-row set, drawn with
// a PCG generator seeded by seed (a partial Fisher-Yates shuffle), so the
// calibration sample is the same on every machine.
func CalibSample(n, k int, seed uint64) []int {
	if k > n {
		k = n
	}
	rng := rand.New(rand.NewPCG(seed, 0x63616c6962)) // "calib"
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + rng.IntN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm[:k]
}
