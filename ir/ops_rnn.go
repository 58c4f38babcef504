package ir

// Recurrent ops.

const opRNNAttrs = "activation_alpha=fs activation_beta=fs clip=f direction=s:forward hidden_size=i layout=i:0 output_sequence=i:0"

func init() {
	regOps("", nil, nil,
		opRow{"RNN", 1, "3-6:0-2", opRNNAttrs + " activations=ss:Tanh,Tanh"},
		opRow{"GRU", 3, "3-6:0-2", opRNNAttrs + " activations=ss linear_before_reset=i:0"},
		opRow{"LSTM", 1, "3-8:0-3", opRNNAttrs + " activations=ss input_forget=i:0"},
	)
}
