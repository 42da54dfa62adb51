//! Aho-Corasick over bytes, reduced to what masking needs: after each byte, the length of the
//! longest needle that ends there, and at the end, the longest suffix that starts a needle.
//!
//! Why not the `aho-corasick` crate: masking needs the union of *all* occurrences, overlapping
//! ones included, in time linear in the text whatever the needles are. The crate reports
//! overlapping matches one by one (k needles that are suffixes of each other give k matches
//! per byte) and does not expose a state's depth (the cut-text tail below). Here each state
//! stores its longest needle suffix, computed once when the automaton is built, so a step is
//! amortized O(1): the depth grows by at most one per byte and every failure link followed
//! shrinks it. The crate is the oracle of the tests instead (`tests/properties.rs`).

/// State 0 is the root (the empty string).
const ROOT: u32 = 0;

#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    /// The root's transitions, dense: most bytes of most texts start at the root.
    root: Box<[u32; 256]>,
    /// Per state: its failure link, its depth, and the length of the longest needle that is a
    /// suffix of the state's string (0: none).
    fail: Vec<u32>,
    depth: Vec<u32>,
    longest: Vec<u32>,
    /// The other states' transitions, sorted by byte: state `s` owns
    /// `edge_bytes[edge_start[s]..edge_start[s + 1]]` and the matching `edge_targets`.
    edge_start: Vec<u32>,
    edge_bytes: Vec<u8>,
    edge_targets: Vec<u32>,
    max_len: usize,
}

impl Matcher {
    /// An automaton for `needles` (empty needles are ignored). Built with a few flat vectors,
    /// not a list per state: secrets are compiled on every call that masks, so building is on
    /// the per-call path (a few hundred states for the usual two tokens in four spellings).
    pub(crate) fn new<'n>(needles: impl IntoIterator<Item = &'n [u8]>) -> Self {
        let trie = Trie::new(needles);
        let states = trie.depth.len();
        // The transitions, flattened in state order and sorted by byte within a state.
        let mut edge_start = Vec::with_capacity(states + 1);
        let mut edge_bytes = Vec::with_capacity(states);
        let mut edge_targets = Vec::with_capacity(states);
        let mut children = Vec::new();
        for state in 0..states {
            children.clear();
            children.extend(trie.children(state as u32));
            children.sort_unstable_by_key(|&(b, _)| b);
            edge_start.push(edge_bytes.len() as u32);
            edge_bytes.extend(children.iter().map(|&(b, _)| b));
            edge_targets.extend(children.iter().map(|&(_, t)| t));
        }
        edge_start.push(edge_bytes.len() as u32);
        let mut root = Box::new([ROOT; 256]);
        for (byte, target) in trie.children(ROOT) {
            if let Some(slot) = root.get_mut(usize::from(byte)) {
                *slot = target;
            }
        }
        let mut matcher = Matcher {
            root,
            fail: vec![ROOT; states],
            depth: trie.depth,
            longest: vec![0; states],
            edge_start,
            edge_bytes,
            edge_targets,
            max_len: trie.max_len,
        };
        // Failure links and longest suffix needles, breadth first: a state's failure link is
        // shallower, so it is complete by the time the state needs it.
        let mut queue = std::collections::VecDeque::from([ROOT]);
        while let Some(state) = queue.pop_front() {
            for edge in matcher.edge_range(state) {
                let (Some(&byte), Some(&target)) =
                    (matcher.edge_bytes.get(edge), matcher.edge_targets.get(edge))
                else {
                    continue;
                };
                let fail = if state == ROOT {
                    ROOT
                } else {
                    matcher.step(matcher.fail_of(state), byte)
                };
                let own = if trie.terminal.get(target as usize) == Some(&true) {
                    matcher.depth_of(target)
                } else {
                    matcher.longest_of(fail)
                };
                if let (Some(f), Some(l)) = (
                    matcher.fail.get_mut(target as usize),
                    matcher.longest.get_mut(target as usize),
                ) {
                    *f = fail;
                    *l = own;
                }
                queue.push_back(target);
            }
        }
        matcher
    }

    pub(crate) const fn start(&self) -> u32 {
        ROOT
    }

    /// The length of the longest needle.
    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    /// The state after `byte`.
    pub(crate) fn step(&self, mut state: u32, byte: u8) -> u32 {
        loop {
            if state == ROOT {
                return self.root.get(usize::from(byte)).copied().unwrap_or(ROOT);
            }
            if let Some(next) = self.edge(state, byte) {
                return next;
            }
            state = self.fail_of(state);
        }
    }

    /// The length of the longest needle ending at this state (0: none).
    pub(crate) fn longest_match(&self, state: u32) -> usize {
        self.longest_of(state) as usize
    }

    /// The length of the longest suffix of what was read that is the start of some needle.
    pub(crate) fn depth(&self, state: u32) -> usize {
        self.depth_of(state) as usize
    }

    fn edge(&self, state: u32, byte: u8) -> Option<u32> {
        let range = self.edge_range(state);
        let bytes = self.edge_bytes.get(range.clone())?;
        // Almost every state has one or two edges: a linear scan beats a binary search.
        let at = bytes.iter().position(|&b| b == byte)?;
        self.edge_targets.get(range.start + at).copied()
    }

    fn edge_range(&self, state: u32) -> std::ops::Range<usize> {
        let at = |i: usize| self.edge_start.get(i).map_or(0, |&v| v as usize);
        at(state as usize)..at(state as usize + 1)
    }

    fn fail_of(&self, state: u32) -> u32 {
        self.fail.get(state as usize).copied().unwrap_or(ROOT)
    }

    fn depth_of(&self, state: u32) -> u32 {
        self.depth.get(state as usize).copied().unwrap_or(0)
    }

    fn longest_of(&self, state: u32) -> u32 {
        self.longest.get(state as usize).copied().unwrap_or(0)
    }
}

/// The needles' trie while the automaton is built: each state's children as a linked list
/// (first child, next sibling), so that adding a state allocates nothing of its own.
struct Trie {
    depth: Vec<u32>,
    terminal: Vec<bool>,
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    byte: Vec<u8>,
    max_len: usize,
}

/// No child, no further sibling.
const NONE: u32 = u32::MAX;

impl Trie {
    fn new<'n>(needles: impl IntoIterator<Item = &'n [u8]>) -> Self {
        let mut trie = Trie {
            depth: vec![0],
            terminal: vec![false],
            first_child: vec![NONE],
            next_sibling: vec![NONE],
            byte: vec![0],
            max_len: 0,
        };
        for needle in needles {
            if needle.is_empty() {
                continue;
            }
            trie.max_len = trie.max_len.max(needle.len());
            let state = needle
                .iter()
                .fold(ROOT, |state, &byte| trie.child_or_new(state, byte));
            if let Some(t) = trie.terminal.get_mut(state as usize) {
                *t = true;
            }
        }
        trie
    }

    fn child_or_new(&mut self, state: u32, byte: u8) -> u32 {
        if let Some((_, child)) = self.children(state).find(|&(b, _)| b == byte) {
            return child;
        }
        let child = self.depth.len() as u32;
        let parent = state as usize;
        self.depth
            .push(self.depth.get(parent).copied().unwrap_or(0) + 1);
        self.terminal.push(false);
        self.first_child.push(NONE);
        self.next_sibling
            .push(self.first_child.get(parent).copied().unwrap_or(NONE));
        self.byte.push(byte);
        if let Some(first) = self.first_child.get_mut(parent) {
            *first = child;
        }
        child
    }

    /// `state`'s children as (byte, child), in no particular order.
    fn children(&self, state: u32) -> impl Iterator<Item = (u8, u32)> + '_ {
        let first = self
            .first_child
            .get(state as usize)
            .copied()
            .unwrap_or(NONE);
        std::iter::successors((first != NONE).then_some(first), |&child| {
            let next = self
                .next_sibling
                .get(child as usize)
                .copied()
                .unwrap_or(NONE);
            (next != NONE).then_some(next)
        })
        .map(|child| (self.byte.get(child as usize).copied().unwrap_or(0), child))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After each byte of `text`, the longest needle ending there, by brute force.
    fn brute(needles: &[&str], text: &str) -> Vec<usize> {
        (1..=text.len())
            .map(|end| {
                needles
                    .iter()
                    .filter(|n| !n.is_empty() && text.as_bytes()[..end].ends_with(n.as_bytes()))
                    .map(|n| n.len())
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn run(needles: &[&str], text: &str) -> (Vec<usize>, usize) {
        let m = Matcher::new(needles.iter().map(|n| n.as_bytes()));
        let mut state = m.start();
        let mut out = vec![];
        for &b in text.as_bytes() {
            state = m.step(state, b);
            out.push(m.longest_match(state));
        }
        (out, m.depth(state))
    }

    #[test]
    fn longest_needle_ending_at_each_byte() {
        for (needles, text) in [
            (vec!["he", "she", "his", "hers"], "ushershishe"),
            (vec!["a", "aa", "aaa"], "aaaaa"),
            (vec!["abab", "bab", "b"], "abababab"),
            (vec!["", "x"], "axbx"),
            (vec!["é", "ée"], "aéée"),
        ] {
            assert_eq!(run(&needles, text).0, brute(&needles, text), "{needles:?}");
        }
    }

    #[test]
    fn depth_is_the_longest_suffix_that_starts_a_needle() {
        assert_eq!(run(&["secret"], "a secr").1, 4);
        assert_eq!(run(&["secret"], "a secret").1, 6);
        assert_eq!(run(&["secret"], "a sex").1, 0);
        assert_eq!(run(&["aab"], "aaaa").1, 2);
    }
}
