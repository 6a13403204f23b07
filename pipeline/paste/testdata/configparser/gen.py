#!/usr/bin/python3 -I
"""Random INI files parsed by CPython's ConfigParser as Paste Deploy sets it up
(strict, optionxform = str, no interpolation for the dump). Writes cases.json:
[{"text": INI, "py": [[section, [[key, value]...]]...] or "ExceptionClass"}].
Run from this folder: /usr/bin/python3 -I gen.py
"""
import random, json, configparser
random.seed(7)
frags = ['[app:main]', '[DEFAULT]', '[x]', '[ y ]', '[a]b]', 'k = v', 'k=v', 'k: v', 'K = V', 'key with space = 1',
         'set x = 1', 'get y = x', 'k = # not comment', 'k = v ; semi', 'k =', '  cont', '\tcont', '  # ind comment',
         '# comment', '; comment', '', '   ', 'url = http://x/#frag', 'q = "quoted"', "q = 'single'", 'b = C:\\dir\\',
         'u = %(here)s', 'e = a=b:c', 'n = 1', '  [app:other]', 'z = ünïcode', 'pipeline = a\n    b\n    c', 'emptyval =\n  x']
out = []
for i in range(800):
    lines = [random.choice(frags) for _ in range(random.randint(1, 12))]
    if random.random() < 0.8 and not lines[0].startswith('['):
        lines.insert(0, random.choice(['[app:main]', '[DEFAULT]', '[s]']))
    text = '\n'.join(lines) + random.choice(['\n', '', '\r\n'])
    p = configparser.ConfigParser(defaults=None, interpolation=None)
    p.optionxform = str
    res = None
    try:
        p.read_string(text)
        res = [['DEFAULT', list(p._defaults.items())]] + [[s, [(k, v) for k, v in p._sections[s].items()]] for s in p.sections()]
    except Exception as e:
        res = type(e).__name__
    out.append({'text': text, 'py': res})
json.dump(out, open('cases.json', 'w'), indent=0, ensure_ascii=False)
print(len(out))
