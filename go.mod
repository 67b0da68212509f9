module github.com/c9e48c40/alibi

go 1.26.0

require (
	github.com/dlclark/regexp2/v2 v2.13.0
	github.com/hack-pad/safejs v0.1.1
	golang.org/x/text v0.44.0
)

require github.com/syumai/workers v0.32.0
