module github.com/org/lean4-cf-action

go 1.26

require (
	github.com/cenkalti/backoff/v5 v5.0.3
	github.com/google/go-github/v75 v75.0.0
	github.com/sethvargo/go-githubactions v1.0.0
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/google/go-querystring v1.1.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/sethvargo/go-envconfig v0.6.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
