package main

// package.go: `build-wasm --package` support. The npm package writer lives in
// tools/package/npmpkg (shared with the tools/package CLI); this file adapts
// it to build-wasm's options. Wiring in main.go (one flag, one call):
//
//	fl.StringVar(&o.pkg, "package", "", "also write the npm package folder alibi-wasm to this directory")
//	... after build(o, stdout): if o.pkg != "" { return writePackage(o.out, o.pkg, "") }

import (
	"os"
	"path/filepath"

	"github.com/c9e48c40/alibi/tools/package/npmpkg"
)

// writePackage writes the npm package folder pkgDir from the built site
// siteDir. An empty version means the VERSION file at the repository root
// (found from siteDir's parent folders, then the working directory).
func writePackage(siteDir, pkgDir string, version string) error {
	if version == "" {
		root, err := packageRoot(siteDir)
		if err != nil {
			return err
		}
		if version, err = npmpkg.Version(root); err != nil {
			return err
		}
	}
	return npmpkg.Write(siteDir, pkgDir, version)
}

// packageRoot finds the folder holding VERSION and go.mod above dir, else
// above the working directory.
func packageRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		for d := abs; ; d = filepath.Dir(d) {
			if pkgExists(filepath.Join(d, "VERSION")) && pkgExists(filepath.Join(d, "go.mod")) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return findRoot()
}

func pkgExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
