// Command package writes the npm package folder `alibi-wasm` from a site
// built by cmd/build-wasm:
//
//	go run ./tools/package -site build/site -o build/npm
//
// tools/package/build.sh wraps this (building the site first when needed)
// and runs npm pack. The writer itself is tools/package/npmpkg, shared with
// `go run ./cmd/build-wasm -o DIR --package PKGDIR`.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/c9e48c40/alibi/tools/package/npmpkg"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("package", flag.ContinueOnError)
	fl.SetOutput(stderr)
	site := fl.String("site", "build/site", "folder built by go run ./cmd/build-wasm -o DIR")
	out := fl.String("o", "build/npm", "package folder to write (replaced)")
	root := fl.String("root", ".", "repository root (holds VERSION)")
	version := fl.String("version", "", "package version (default: the VERSION file)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 0 {
		fl.Usage()
		return fmt.Errorf("package: unexpected arguments %q", fl.Args())
	}
	v := *version
	if v == "" {
		var err error
		if v, err = npmpkg.Version(*root); err != nil {
			return err
		}
	}
	if err := npmpkg.Write(*site, *out, v); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "package: wrote %s (%s@%s)\n", *out, npmpkg.Name, v)
	return nil
}
