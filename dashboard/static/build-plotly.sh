#!/bin/bash
# Rebuilds plotly-shedding.min.js: plotly.js 4.1.1 with only the traces the dashboard draws
# (scatter, which core includes, bar and heatmap). Needs node + npm and the npm registry.
# Why: the published "cartesian" partial bundle (1.5 MB) took 1.1 s to evaluate in headless
# Chromium on the 2-core machine, this one (1.26 MB) 0.4 s (median of 8 interleaved loads):
# the largest single task of a first visit to a run page.
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)/plotly-shedding.min.js"
work=$(mktemp -d)
cd "$work"
npm pack --silent plotly.js@4.1.1 >/dev/null
tar xzf plotly.js-4.1.1.tgz
cd package
npm install --silent --omit=dev --ignore-scripts --no-audit --no-fund
npm install --silent --no-save --ignore-scripts --no-audit --no-fund esbuild@0.28.2 \
  esbuild-plugin-environment@0.5.0 esbuild-plugin-glsl@1.4.2 esbuild-plugin-inline-css@0.0.1 \
  stream-browserify@3.0.0
cat > lib/index-shedding.js <<'JS'
'use strict';
var Plotly = require('./core');
Plotly.register([require('./bar'), require('./heatmap')]);
module.exports = Plotly;
JS
cat > build.js <<'JS'
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
// the options of plotly.js's own esbuild-config.js, minified
esbuild.build({
  entryPoints: ['./lib/index-shedding.js'], outfile: 'plotly-shedding.min.js',
  format: 'iife', globalName: 'Plotly', bundle: true, minify: true, sourcemap: false,
  legalComments: 'none', target: 'es2016', logLevel: 'warning',
  plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
  alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
  define: { global: 'window', 'define.amd': 'false' },
}).catch(() => process.exit(1));
JS
node build.js
{
  echo '/** plotly.js v4.1.1, custom bundle (scatter, bar, heatmap) for the cascade-shedding'
  echo ' * dashboard, built by dashboard/static/build-plotly.sh. Copyright 2012-2026 Plotly, Inc.'
  echo ' * MIT licence: plotly-shedding.LICENSE */'
  cat plotly-shedding.min.js
} > "$out"
rm -rf "$work"
echo "wrote $out ($(wc -c < "$out") bytes)"
