// Package locret trains Locret's retaining heads (papers.md §4.2) for
// optc's evicting KV cache: it logs a model's attention over windows of
// text (prompt + answer, one forward pass over a dense cache whose
// observer hooks see the queries and the attention weights), labels each
// prompt token with the largest weight an answer query of its kv head's
// group puts on it, and fits one small MLP per layer on the pre-rotary
// [q; k; v] of the token with SmoothL1 plus a smoothness term, AdamW.
// The result is a kvcache.RetainingHead that kvcache.ParseSpec's
// "locret:BUDGET,head=FILE" loads.
//
// It imports runtime/llm and runtime/llm/kvcache.
package locret
