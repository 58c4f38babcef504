package ir

// CloneGraph copies g's structure: values (types included), nodes,
// attribute maps and subgraphs, whose references to outer-scope values
// point at the copies. Tensors (constants', attributes') are shared: they
// are immutable by convention. Passes and code generation that bind
// shapes or rewrite nodes in place can work on the copy.
func CloneGraph(g *Graph) *Graph {
	return cloneGraphInto(g, map[*Value]*Value{})
}

// CloneGraphMap is CloneGraph recording each original value's copy in vm
// (values already in vm are reused), so a caller can find the copies of
// the values it holds.
func CloneGraphMap(g *Graph, vm map[*Value]*Value) *Graph {
	return cloneGraphInto(g, vm)
}

func cloneGraphInto(g *Graph, vm map[*Value]*Value) *Graph {
	cv := func(v *Value) *Value {
		if v == nil {
			return nil
		}
		if nv, ok := vm[v]; ok {
			return nv
		}
		nv := &Value{Name: v.Name, Type: cloneType(v.Type), Const: v.Const}
		vm[v] = nv
		return nv
	}
	out := &Graph{Name: g.Name, Opsets: g.Opsets, Meta: g.Meta}
	for _, v := range g.Inputs {
		out.Inputs = append(out.Inputs, cv(v))
	}
	for _, v := range g.Consts {
		out.Consts = append(out.Consts, cv(v))
	}
	for _, n := range g.Nodes {
		nn := &Node{Op: n.Op, Domain: n.Domain, Name: n.Name, Attrs: make(map[string]*Attr, len(n.Attrs))}
		for _, v := range n.Inputs {
			nn.Inputs = append(nn.Inputs, cv(v))
		}
		for k, a := range n.Attrs {
			na := *a
			if a.Graph != nil {
				na.Graph = cloneGraphInto(a.Graph, vm)
			}
			if a.Graphs != nil {
				na.Graphs = make([]*Graph, len(a.Graphs))
				for i, sg := range a.Graphs {
					na.Graphs[i] = cloneGraphInto(sg, vm)
				}
			}
			nn.Attrs[k] = &na
		}
		for _, v := range n.Outputs {
			o := cv(v)
			if o != nil {
				o.Def = nn
			}
			nn.Outputs = append(nn.Outputs, o)
		}
		out.Nodes = append(out.Nodes, nn)
	}
	for _, v := range g.Outputs {
		out.Outputs = append(out.Outputs, cv(v))
	}
	return out
}
