// Command optc is the optc command line: inspect, run (and, as they land,
// compile, search, bench, eval, generate). It only parses flags, calls
// packages and prints; the work lives in the packages.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "optc:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "optc",
		Short:         "optc is a model optimization compiler",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newInspectCmd(), newRunCmd(), newEvalCmd(), newCompileCmd(), newGenerateCmd(), newQuantReportCmd(), newTrainAcceptHeadCmd(), newBenchCmd())
	return root
}
