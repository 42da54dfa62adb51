// Field paths as the component writes them in diagnostics
// (`httpRequest.body.spec.model_deployments[0].accelerators[0].scale`, `parameters.name`),
// and where such a path is in a JSON object or in a JSON text.

/** `a.b[0].c` → ["a", "b", 0, "c"]. */
export function parsePath(path) {
  const segments = [];
  const pattern = /\[(\d+)\]|\.?([^.[\]]+)/g;
  let match;
  while ((match = pattern.exec(path)) !== null) {
    segments.push(match[1] !== undefined ? Number(match[1]) : match[2]);
  }
  return segments;
}

/** ["a", "b", 0, "c"] → `a.b[0].c`. */
export function formatPath(segments) {
  let path = '';
  for (const segment of segments) {
    path += typeof segment === 'number' ? `[${segment}]` : path ? `.${segment}` : segment;
  }
  return path;
}

export function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function getAt(root, segments) {
  let value = root;
  for (const segment of segments) {
    if (value === null || typeof value !== 'object' || !(segment in value)) return undefined;
    value = value[segment];
  }
  return value;
}

/** Sets the value at `segments`, creating objects on the way; `undefined` deletes it. */
export function setAt(root, segments, value) {
  let parent = root;
  for (const [i, segment] of segments.slice(0, -1).entries()) {
    if (parent[segment] === null || typeof parent[segment] !== 'object') {
      if (value === undefined) return root;
      parent[segment] = typeof segments[i + 1] === 'number' ? [] : {};
    }
    parent = parent[segment];
  }
  const last = segments[segments.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(last, 1);
    else delete parent[last];
  } else {
    parent[last] = value;
  }
  return root;
}

const VALUE_NODES = new Set(['Object', 'Array', 'String', 'Number', 'True', 'False', 'Null']);

function children(node) {
  const list = [];
  for (let child = node.firstChild; child; child = child.nextSibling) list.push(child);
  return list;
}

function propertyKey(doc, nameNode) {
  const text = doc.sliceString(nameNode.from, nameNode.to);
  try {
    return JSON.parse(text);
  } catch {
    return text.replace(/^"|"$/g, '');
  }
}

/**
 * Where `segments` is in a JSON text, from its Lezer JSON syntax tree (`tree.topNode` is
 * JsonText). Returns `{from, to, exact, keyFrom, keyTo}`: the value's range and its property
 * name's when the whole path exists (`exact`), else the deepest part of the path that does
 * (a missing member is shown at its parent).
 */
export function locate(tree, doc, segments) {
  let node = children(tree.topNode).find((child) => VALUE_NODES.has(child.name));
  if (!node) return { from: 0, to: Math.min(1, doc.length), exact: segments.length === 0, keyFrom: null, keyTo: null };
  let key = null;
  for (const segment of segments) {
    let next = null;
    let nextKey = null;
    if (typeof segment === 'number' && node.name === 'Array') {
      next = children(node).filter((child) => VALUE_NODES.has(child.name))[segment] ?? null;
    } else if (typeof segment === 'string' && node.name === 'Object') {
      // The last of duplicate members wins, as in JSON.parse.
      for (const property of children(node).filter((child) => child.name === 'Property')) {
        const parts = children(property);
        const name = parts.find((part) => part.name === 'PropertyName');
        const value = parts.find((part) => VALUE_NODES.has(part.name));
        if (name && value && propertyKey(doc, name) === segment) {
          next = value;
          nextKey = name;
        }
      }
    }
    if (!next) return { from: node.from, to: node.to, exact: false, keyFrom: key?.from ?? null, keyTo: key?.to ?? null };
    node = next;
    key = nextKey;
  }
  return { from: node.from, to: node.to, exact: true, keyFrom: key?.from ?? null, keyTo: key?.to ?? null };
}

/**
 * The range to underline for a diagnostic: the value when it fits on one line, else its
 * property name (or the opening bracket), so that a problem with a whole object does not
 * underline twenty lines.
 */
export function markRange(doc, place) {
  const { from, to, keyFrom, keyTo, exact } = place;
  const oneLine = doc.lineAt(from).number === doc.lineAt(to).number;
  if (exact && oneLine) return { from, to };
  if (keyFrom !== null) return { from: keyFrom, to: keyTo };
  return { from, to: Math.min(from + 1, doc.length) };
}

/** `… at line 3 column 7` in a JSON parse error → the position in `doc`. */
export function positionOfLineColumn(doc, message) {
  const match = /line (\d+) column (\d+)/.exec(message);
  if (!match) return null;
  const lineNumber = Math.min(Math.max(1, Number(match[1])), doc.lines);
  const line = doc.line(lineNumber);
  return Math.min(line.from + Math.max(0, Number(match[2]) - 1), line.to);
}
