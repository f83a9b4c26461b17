// SPDX-License-Identifier: MIT
// node_run.js FILE.js [INPUT_JSON] - runs a job script under node the way
// sealrun runs it (main(input) awaited; the result printed as the job's
// output object) so test_webcrypto.py can compare the two.
'use strict';
const fs = require('fs');
const vm = require('vm');
const [file, input = 'null'] = process.argv.slice(2);
const main = vm.runInThisContext(fs.readFileSync(file, 'utf8') + '\n;main', {filename: file});
Promise.resolve(main(JSON.parse(input), {})).then((r) => {
    const out = r === undefined || r === null ? {} :
        (typeof r === 'object' && !Array.isArray(r)) ? r : {result: r};
    process.stdout.write(JSON.stringify(out));
}, (e) => {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
});
