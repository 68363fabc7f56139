module github.com/org/lean4-cf-action

go 1.26

require (
	github.com/cenkalti/backoff/v5 v5.0.3
	github.com/cloudflare/cloudflare-go/v6 v6.10.0
	github.com/sethvargo/go-githubactions v1.0.0
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/sethvargo/go-envconfig v0.6.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	github.com/tidwall/gjson v1.14.4 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
)
