// Command icons draws the demo page's app icons (web/icons/*.png): a rounded
// indigo square with ALiBi's picture, lines falling from a common origin at
// different slopes, one per attention head.
//
//	go run ./tools/icons -o web/icons
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("o", "web/icons", "output directory")
	flag.Parse()
	icons := []struct {
		name     string
		size     int
		maskable bool
	}{
		{"icon-192.png", 192, false},
		{"icon-512.png", 512, false},
		{"maskable-512.png", 512, true},
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "icons:", err)
		os.Exit(1)
	}
	for _, ic := range icons {
		if err := write(filepath.Join(*out, ic.name), draw(ic.size, ic.maskable)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func write(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("icons: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("icons: encode %s: %w", path, err)
	}
	return f.Close()
}

type rgba struct{ r, g, b, a float64 }

// over composites c with coverage a over dst (straight alpha, 0..1).
func over(dst, c rgba, a float64) rgba {
	a *= c.a
	oa := a + dst.a*(1-a)
	if oa == 0 {
		return rgba{}
	}
	mix := func(x, y float64) float64 { return (x*a + y*dst.a*(1-a)) / oa }
	return rgba{mix(c.r, dst.r), mix(c.g, dst.g), mix(c.b, dst.b), oa}
}

// segDist is the distance from p to the segment ab.
func segDist(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(px-(ax+t*dx), py-(ay+t*dy))
}

// draw renders one icon in unit coordinates with 4x4 supersampling.
// Maskable icons fill the whole square and keep the motif in the central
// safe zone (radius 40%).
func draw(size int, maskable bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4
	top := rgba{0x4f / 255.0, 0x46 / 255.0, 0xe5 / 255.0, 1}
	bottom := rgba{0x31 / 255.0, 0x2e / 255.0, 0x81 / 255.0, 1}
	white := rgba{1, 1, 1, 1}
	amber := rgba{0xf5 / 255.0, 0x9e / 255.0, 0x0b / 255.0, 1}
	inset, radius, scale := 0.04, 0.22, 1.0
	if maskable {
		inset, radius, scale = 0, 0, 0.72
	}
	// The motif: lines from an origin at the top left, each falling at its
	// own angle (like ALiBi's per-head slopes), plus the origin dot.
	ox, oy := 0.25, 0.27
	angles := []float64{50, 36, 24, 13, 4} // degrees below the horizontal, steepest first
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var acc rgba
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					u := (float64(x) + (float64(sx)+0.5)/ss) / float64(size)
					v := (float64(y) + (float64(sy)+0.5)/ss) / float64(size)
					c := rgba{}
					if inRoundRect(u, v, inset, radius) {
						bg := lerp(top, bottom, v)
						c = over(c, bg, 1)
						// motif coordinates, centered and scaled for maskable icons
						mu, mv := 0.5+(u-0.5)/scale, 0.5+(v-0.5)/scale
						lw := 0.03
						for i, deg := range angles {
							const length = 0.6
							a := deg * math.Pi / 180
							ex, ey := ox+length*math.Cos(a), oy+length*math.Sin(a)
							d := segDist(mu, mv, ox, oy, ex, ey)
							col := white
							if i == 0 {
								col = amber
							}
							if d < lw {
								c = over(c, col, 0.95)
							}
						}
						if math.Hypot(mu-ox, mv-oy) < 0.06 {
							c = over(c, white, 1)
						}
					}
					acc.r += c.r * c.a
					acc.g += c.g * c.a
					acc.b += c.b * c.a
					acc.a += c.a
				}
			}
			n := float64(ss * ss)
			if acc.a > 0 {
				img.SetNRGBA(x, y, color.NRGBA{
					R: uint8(math.Round(255 * acc.r / acc.a)), G: uint8(math.Round(255 * acc.g / acc.a)),
					B: uint8(math.Round(255 * acc.b / acc.a)), A: uint8(math.Round(255 * acc.a / n)),
				})
			}
		}
	}
	return img
}

func lerp(a, b rgba, t float64) rgba {
	return rgba{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t, 1}
}

// inRoundRect reports whether (u, v) lies in the square [inset, 1-inset]²
// with corners rounded by radius.
func inRoundRect(u, v, inset, radius float64) bool {
	lo, hi := inset, 1-inset
	if u < lo || u > hi || v < lo || v > hi {
		return false
	}
	cx := math.Max(lo+radius, math.Min(hi-radius, u))
	cy := math.Max(lo+radius, math.Min(hi-radius, v))
	return math.Hypot(u-cx, v-cy) <= radius
}
