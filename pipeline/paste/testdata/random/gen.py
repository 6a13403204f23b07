#!/usr/bin/python3 -I
"""Random Paste Deploy configurations (two files each, main.ini including
inc.ini) and what the oracle (../../../../../shared/tools/paste_oracle.py)
prints for several entry points. Usage: /usr/bin/python3 -I gen.py SEED COUNT
(the vectors here: seed 3, the first 60 configurations; cases whose oracle
result is a known deviation, or that print an absolute path of the machine
they were made on, are left out of cases.json)."""
import random, json, subprocess, os, sys
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
names = ['main', 'a', 'b', 'c', 'd']
fnames = ['f1', 'f2', 'f3']
appprefixes = ['app', 'application', 'composite', 'composit', 'pipeline', 'filter-app']
def val():
    r = random.random()
    if r < 0.2: return '%(x)s'
    if r < 0.3: return '%(here)s/p'
    if r < 0.35: return '%%lit'
    if r < 0.4: return '%(d1)s-%(x)s'
    return random.choice(['v1', 'v2', 'true', 'x y'])
def appref():
    r = random.random()
    if r < 0.7: return random.choice(names)
    if r < 0.9: return 'egg:E#' + random.choice(['x', 'y'])
    return 'config:inc.ini#' + random.choice(['main', 'a'])
def filtref():
    r = random.random()
    if r < 0.8: return random.choice(fnames)
    return 'egg:E#f'
def plainkeys(lines):
    for _ in range(random.randint(0, 3)):
        k = random.choice(['k1', 'k2', 'x', 'd1', 'set x', 'set k2', 'get k3', 'get x', 'Key'])
        if any(l.startswith(k + ' =') for l in lines): continue
        if k.startswith('get '):
            lines.append('%s = %s' % (k, random.choice(['x', 'd1', 'k2', 'here'])))
        else:
            lines.append('%s = %s' % (k, val()))
def section(prefix, name):
    lines = ['[%s:%s]' % (prefix, name)]
    if prefix == 'pipeline':
        els = [filtref() for _ in range(random.randint(0, 2))] + [appref()]
        lines.append('pipeline = ' + ' '.join(els))
        if random.random() < 0.3: lines.append('set x = piped')
        if random.random() < 0.1: lines.append('filter-with = ' + filtref())
        return lines
    if prefix in ('composite', 'composit') and random.random() < 0.6:
        lines.append(random.choice(['use = egg:Paste#urlmap', 'use = egg:Paste#urlmap', 'paste.composite_factory = paste.urlmap:urlmap_factory', 'use = call:paste.urlmap:urlmap_factory']))
        for _ in range(random.randint(1, 3)):
            k = random.choice(['/', '/v2', '/v2/', 'domain H.x', 'domain h.x /a', '/b'])
            if any(l.startswith(k + ' =') for l in lines): continue
            lines.append('%s = %s' % (k, appref()))
        if random.random() < 0.2: lines.append('not_found_app = ' + appref())
        return lines
    if prefix == 'filter-app':
        lines.append('next = ' + appref())
    r = random.random()
    if r < 0.5:
        if prefix == 'filter' or prefix == 'filter-app':
            lines.append('use = ' + (random.choice(fnames) if random.random() < 0.4 else 'egg:E#f'))
        else:
            lines.append('use = ' + appref())
    elif r < 0.8:
        proto = {'app': 'paste.app_factory', 'application': 'paste.app_factory', 'composite': 'paste.composite_factory',
                 'composit': 'paste.composit_factory', 'filter': random.choice(['paste.filter_factory', 'paste.filter_app_factory']), 'filter-app': 'paste.filter_factory'}[prefix]
        lines.append('%s = mod:%s' % (proto, name))
    else:
        lines.append('use = call:mod:' + name)
    if random.random() < 0.2 and prefix != 'filter-app':
        lines.append('filter-with = ' + filtref())
    plainkeys(lines)
    return lines
def config(main):
    out = []
    if True:
        out.append('[DEFAULT]')
        out.append('d1 = %s' % random.choice(['dv', '%(here)s', '%(x)s', '']))
        out.append('x = defx')
        if random.random() < 0.2: out.append('set s = fromdef')
        if random.random() < 0.1: out.append('get g = x')
        if random.random() < 0.1: out.append('not_found_app = ' + random.choice(names))
        out.append('')
    used = set()
    for n in names:
        for _ in range(1):
            p = random.choice(appprefixes)
            if (p, n) in used: continue
            used.add((p, n))
            out += section(p, n) + ['']
    for n in fnames:
        if True:
            out += section('filter', n) + ['']
    for n in ['main', 'a']:
        if random.random() < 0.6:
            out += ['[server:%s]' % n, random.choice(['use = egg:Paste#http', 'paste.server_runner = m:r', 'use = call:m:s', 'use = egg:Paste#urlmap']),
                    'port = %s' % random.choice(['80', '%(x)s'])] + (['filter-with = f1'] if random.random() < 0.3 else []) + ['']
    return '\n'.join(out) + '\n'
cases = []
os.makedirs('cases', exist_ok=True)
for i in range(N):
    d = 'cases/%03d' % i
    os.makedirs(d, exist_ok=True)
    open(d + '/main.ini', 'w').write(config(True))
    open(d + '/inc.ini', 'w').write(config(False))
    for name in ['main', 'a', 'b']:
        args = ['--name', name]
        if random.random() < 0.3: args += ['--kind', 'server']
        if random.random() < 0.2: args += ['--global', 'x=gx']
        p = subprocess.run(['/usr/bin/python3', '-I', '/work/shared/tools/paste_oracle.py', d + '/main.ini'] + args, capture_output=True, text=True)
        exp = d + '/%s.json' % name
        open(exp, 'w').write(p.stdout)
        doc = json.loads(p.stdout)
        cases.append({'ini': d + '/main.ini', 'args': args, 'expected': exp, 'error': doc.get('error')})
json.dump(cases, open('cases.json', 'w'), indent=1)
print(len(cases))
