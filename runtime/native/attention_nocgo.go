//go:build !cgo

package native

import "github.com/optc-dev/optc/runtime/interp"

// AttnBlock is nil without cgo: the Attention steps run the interpreter's
// loop.
func (m *Model) AttnBlock() interp.AttnBlockFunc { return nil }
