#!/usr/bin/python3 -I
"""Regenerates the expectations of the extra oracle vectors in this folder.

Run from this folder: /usr/bin/python3 -I gen.py ORACLE_PATH
(ORACLE_PATH is ../../../../../shared/tools/paste_oracle.py from here).
Writes expected/*.json and cases.json in the format of FORMAT.md §8.
"""
import json, os, re, subprocess, sys

oracle = sys.argv[1]
cases = []
os.makedirs('expected', exist_ok=True)
for line in open('cases.txt'):
    args = line.split()
    if not args:
        continue
    ini, rest = args[0], args[1:]
    stem = ini.rsplit('.', 1)[0].replace('/', '_')
    tag = ''
    i = 0
    while i < len(rest):
        if rest[i] == '--name':
            tag += '@' + rest[i + 1]
        elif rest[i] == '--kind':
            tag += '%' + rest[i + 1]
        elif rest[i] == '--global':
            tag += '+' + re.sub(r'[^A-Za-z0-9]', '_', rest[i + 1])
        i += 2
    exp = 'expected/%s%s.expected.json' % (stem, tag)
    p = subprocess.run(['/usr/bin/python3', '-I', oracle, ini] + rest,
                       capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit('oracle failed for %s: %s' % (line, p.stderr))
    open(exp, 'w').write(p.stdout)
    doc = json.loads(p.stdout)
    cases.append({'ini': ini, 'args': rest, 'expected': exp,
                  'error': doc.get('error')})
json.dump(cases, open('cases.json', 'w'), indent=2, sort_keys=True)
open('cases.json', 'a').write('\n')
print(len(cases), 'cases')
