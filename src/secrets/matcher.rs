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
    /// An automaton for `needles` (empty needles are ignored).
    pub(crate) fn new<'n>(needles: impl IntoIterator<Item = &'n [u8]>) -> Self {
        // The trie, with children lists while it is built.
        let mut children: Vec<Vec<(u8, u32)>> = vec![Vec::new()];
        let mut depth = vec![0u32];
        let mut terminal = vec![false];
        let mut max_len = 0;
        for needle in needles {
            if needle.is_empty() {
                continue;
            }
            max_len = max_len.max(needle.len());
            let mut state = ROOT;
            for &byte in needle {
                let found = children
                    .get(state as usize)
                    .and_then(|c| c.iter().find(|(b, _)| *b == byte))
                    .map(|&(_, t)| t);
                state = match found {
                    Some(next) => next,
                    None => {
                        let next = children.len() as u32;
                        children.push(Vec::new());
                        depth.push(depth.get(state as usize).copied().unwrap_or(0) + 1);
                        terminal.push(false);
                        if let Some(c) = children.get_mut(state as usize) {
                            c.push((byte, next));
                        }
                        next
                    }
                };
            }
            if let Some(t) = terminal.get_mut(state as usize) {
                *t = true;
            }
        }
        for c in &mut children {
            c.sort_unstable_by_key(|&(b, _)| b);
        }
        let states = children.len();
        let mut edge_start = Vec::with_capacity(states + 1);
        let mut edge_bytes = Vec::new();
        let mut edge_targets = Vec::new();
        for c in &children {
            edge_start.push(edge_bytes.len() as u32);
            edge_bytes.extend(c.iter().map(|&(b, _)| b));
            edge_targets.extend(c.iter().map(|&(_, t)| t));
        }
        edge_start.push(edge_bytes.len() as u32);
        let mut root = Box::new([ROOT; 256]);
        if let Some(first) = children.first() {
            for &(byte, target) in first {
                if let Some(slot) = root.get_mut(usize::from(byte)) {
                    *slot = target;
                }
            }
        }
        let mut matcher = Matcher {
            root,
            fail: vec![ROOT; states],
            depth,
            longest: vec![0; states],
            edge_start,
            edge_bytes,
            edge_targets,
            max_len,
        };
        // Failure links and longest suffix needles, breadth first: a state's failure link is
        // shallower, so it is complete by the time the state needs it.
        let mut queue = std::collections::VecDeque::from([ROOT]);
        while let Some(state) = queue.pop_front() {
            for (byte, target) in matcher.edges(state) {
                let fail = if state == ROOT {
                    ROOT
                } else {
                    matcher.step(matcher.fail_of(state), byte)
                };
                let own = if terminal.get(target as usize) == Some(&true) {
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

    fn edges(&self, state: u32) -> Vec<(u8, u32)> {
        let range = self.edge_range(state);
        let bytes = self.edge_bytes.get(range.clone()).unwrap_or_default();
        let targets = self.edge_targets.get(range).unwrap_or_default();
        bytes.iter().copied().zip(targets.iter().copied()).collect()
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
