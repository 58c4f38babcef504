package llmtest

import (
	"encoding/json"
	"os"
	"testing"
)

// GoldenCase is one prompt of golden/stories260K_greedy.json: llama.cpp's
// greedy decoding with each step's top-1 probability and its lead over
// the second candidate.
type GoldenCase struct {
	Prompt        string    `json:"prompt"`
	PromptTokens  []int32   `json:"promptTokens"`
	OutTokens     []int32   `json:"outTokens"`
	Text          string    `json:"text"`
	Top1Prob      []float64 `json:"top1Prob"`
	Top1MinusTop2 []float64 `json:"top1MinusTop2"`
	MinMargin     float64   `json:"minMargin"`
}

// Golden is the whole file.
type Golden struct {
	Runtime  string       `json:"runtime"`
	Sampling string       `json:"sampling"`
	NTokens  int          `json:"nTokens"`
	Cases    []GoldenCase `json:"cases"`
}

// LoadGolden reads golden/stories260K_greedy.json, skipping the test when
// the data folder is absent.
func LoadGolden(t testing.TB) *Golden {
	t.Helper()
	b, err := os.ReadFile(Path(t, "golden/stories260K_greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g Golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("golden file: %v", err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("golden file has no cases")
	}
	return &g
}
