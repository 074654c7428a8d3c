// Compile Pyodide's stdlib zip to bytecode with Pyodide's own CPython (3.14, in Node).
//
// The npm pyodide ships the stdlib as .py only, so every boot of the page and of every
// worker recompiles ~120 modules: most of start-up. Bytecode made by the very
// interpreter that will run it is byte-for-byte what it would have cached. The result is
// served as /runtime/wheels/python_stdlib_pyc.zip and passed as `stdLibURL`.
// Usage: node scripts/build_stdlib.mjs IN.zip OUT.zip
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [input, output] = process.argv.slice(2);
const { loadPyodide } = await import(path.join(here, "..", "wasm", "node_modules", "pyodide", "pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL: path.join(here, "..", "wasm", "node_modules", "pyodide") + "/" });
pyodide.FS.writeFile("/tmp/in.zip", fs.readFileSync(input));
pyodide.runPython(`
import importlib.util, zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

# Unchecked hash-based pycs: valid without their source, never re-validated.
with zipfile.ZipFile("/tmp/in.zip") as src, \\
        zipfile.ZipFile("/tmp/out.zip", "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        data = src.read(info)
        if info.filename.endswith(".py"):
            code = compile(data, "/lib/python3.14/" + info.filename, "exec",
                           dont_inherit=True)
            pyc = _code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False)
            # Deflated like the .py zip it replaces: stored, the 10.6 MB moved on every
            # boot of the page and of each worker; inflating one on import costs little.
            dst.writestr(zipfile.ZipInfo(info.filename + "c", info.date_time), bytes(pyc),
                         compress_type=zipfile.ZIP_DEFLATED)
        else:
            dst.writestr(info, data)
`);
fs.writeFileSync(output + ".tmp", pyodide.FS.readFile("/tmp/out.zip"));
fs.renameSync(output + ".tmp", output);
console.error(`wrote ${output} (${fs.statSync(output).size} bytes)`);
