#!/usr/bin/env bash
# Rebuilds the playground's code editor, gateway/static/vendor/editor.js, from
# gateway/editor/entry.js and the CodeMirror 6 packages pinned in gateway/editor/package.json
# (and package-lock.json). The result is committed and embedded in kennel-gateway: the page
# loads nothing from elsewhere and works offline. Needs node and npm (the registry is reached
# once, here, never at run time). Run it after changing entry.js or a version.
set -euo pipefail
cd "$(dirname "$0")/.."
work=target/editor-build
mkdir -p "$work" gateway/static/vendor
cp gateway/editor/package.json gateway/editor/entry.js "$work/"
[ -f gateway/editor/package-lock.json ] && cp gateway/editor/package-lock.json "$work/"
cd "$work"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
else
  npm install --no-audit --no-fund --silent
  cp package-lock.json ../../gateway/editor/
fi
npx --no-install esbuild entry.js --bundle --minify --format=iife --global-name=KennelEditor \
  --legal-comments=none --target=es2020 --outfile=../../gateway/static/vendor/editor.js
cd ../..
{
  echo "gateway/static/vendor/editor.js bundles these packages (MIT licence, Marijn Haverbeke and others):"
  node -e 'const l=require("./'"$work"'/package-lock.json").packages; for (const [k,v] of Object.entries(l)) if (k.includes("@codemirror/")||k.includes("@lezer/")||k.endsWith("/crelt")||k.endsWith("/style-mod")||k.endsWith("/w3c-keyname")) console.log("  "+k.replace(/^node_modules\//,"")+" "+v.version)'
} > gateway/static/vendor/NOTICE
wc -c gateway/static/vendor/editor.js
