//go:build !(js && wasm)

package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	site := flag.String("site", "build/site", "site folder (cmd/build-wasm output)")
	addr := flag.String("addr", "127.0.0.1:8788", "listen address")
	modelDir := flag.String("model-dir", "models/brown-bloom", "bundled model directory inside the site")
	index := flag.String("write-index", "", "write the site index JSON to this file and exit (build step)")
	flag.Parse()
	if *index != "" {
		if err := writeIndex(*site, *index); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	src, err := newDirSource(*site)
	if err != nil {
		log.Fatal(err)
	}
	app := NewApp(src, *modelDir)
	app.Logf = log.Printf
	log.Printf("edge (native) serving %s on http://%s/", *site, *addr)
	log.Fatal(http.ListenAndServe(*addr, app))
}
