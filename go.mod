module github.com/c9e48c40/alibi

go 1.26.0

require (
	github.com/dlclark/regexp2/v2 v2.13.0 // indirect
	github.com/hack-pad/safejs v0.1.1 // indirect
	github.com/syumai/workers v0.32.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
