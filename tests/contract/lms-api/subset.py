"""Cuts an OpenAPI YAML file down to chosen paths and the schemas they reference, copying the
original lines of each block unchanged (see SOURCE.md).

    python3 subset.py ORIGINAL.yml SUBSET.yml '["/v1/users", ...]' '["openapi", "info", ...]'

The third argument lists the paths to keep, the fourth the top-level keys kept before `paths`."""
import re, sys, yaml

def blocks(lines, start, end, indent):
    """key -> (first, last) line index of each block at `indent` between start and end."""
    out = {}; key = None; first = None
    pat = re.compile(r"^" + " " * indent + r"('[^']*'|[^\s'][^:]*):(\s|$)")
    for i in range(start, end):
        line = lines[i]
        m = pat.match(line)
        stripped = line.strip()
        if m:
            if key is not None: out[key] = (first, i)
            key = m.group(1).strip("'"); first = i
        elif stripped and (len(line) - len(line.lstrip(' '))) < indent and key is not None:
            out[key] = (first, i); key = None
    if key is not None: out[key] = (first, end)
    return out

def main(src, dst, paths, top_keep):
    text = open(src).read(); lines = text.splitlines(keepends=True)
    spec = yaml.safe_load(text)
    top = blocks(lines, 0, len(lines), 0)
    p0, p1 = top['paths']; c0, c1 = top['components']
    path_blocks = blocks(lines, p0 + 1, p1, 2)
    comp_sections = blocks(lines, c0 + 1, c1, 2)
    s0, s1 = comp_sections['schemas']
    schema_blocks = blocks(lines, s0 + 1, s1, 4)
    seen = []
    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == '$ref' and isinstance(v, str) and v.startswith('#/components/schemas/'):
                    n = v.split('/')[-1]
                    if n not in seen:
                        seen.append(n); walk(spec['components']['schemas'][n])
                else: walk(v)
        elif isinstance(o, list):
            for v in o: walk(v)
    for p in paths: walk(spec['paths'][p])
    out = []
    for k in top_keep:
        a, b = top[k]; out += lines[a:b]
    out.append('paths:\n')
    for p in paths:
        a, b = path_blocks[p]; out += lines[a:b]
    out.append('components:\n')
    out.append('  schemas:\n')
    for n in sorted(seen, key=lambda n: schema_blocks[n][0]):
        a, b = schema_blocks[n]; out += lines[a:b]
    for k, (a, b) in comp_sections.items():
        if k != 'schemas': out += lines[a:b]
    open(dst, 'w').write(''.join(out))
    yaml.safe_load(open(dst))  # still valid
    print(dst, len(paths), 'paths', len(seen), 'schemas')

if __name__ == '__main__':
    import json
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]))
