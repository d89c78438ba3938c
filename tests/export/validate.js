// Validates a FHIR R4 JSON file with FHIR.js (npm package `fhir`, R4 by default), offline:
// the Bundle and every entry's resource. Prints each message; exits 1 if any is an error.
//   node tests/export/validate.js FILE.json
const fs = require('fs');
const { Fhir } = require('fhir');

const fhir = new Fhir();
const bundle = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let bad = 0;
const check = (what, resource) => {
  const r = fhir.validate(resource, { errorOnUnexpected: true });
  for (const m of r.messages || []) {
    console.log(`${what}: ${m.severity} ${m.location || ''} ${m.message}`);
  }
  if (!r.valid) bad += 1;
};
check('Bundle', bundle);
for (const e of bundle.entry || []) {
  check(`${e.resource.resourceType}/${e.resource.id}`, e.resource);
}
console.log(`${(bundle.entry || []).length} entries, ${bad} invalid`);
process.exit(bad ? 1 : 0);
