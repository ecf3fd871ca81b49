//! Generates `core/src/phone/nanp_table.rs`, the NANP validity table of leadroute's phone fast
//! path, from the `phonenumber` crate's own metadata (libphonenumber 9.0.33).
//!
//! ```sh
//! cargo run -p leadroute-core --example gen_nanp_table --release > core/src/phone/nanp_table.rs
//! cargo fmt --all
//! ```
//!
//! # How validity is derived
//!
//! libphonenumber decides whether a `+1` number is valid from its 10-digit national number
//! alone: it picks a region among those sharing code 1 (in metadata order, US first; a region
//! with `leadingDigits` is picked when they match the start of the number, one without when the
//! number has a known type there), then the number is valid when the region's general pattern
//! and one of its type patterns (fixed line, mobile, toll free, premium rate, ...) match. This
//! program reads those patterns from the crate, compiles each into a small NFA over the digits
//! 0-9, and walks all 10-digit numbers as a trie, memoizing on the tuple of NFA states. For
//! every 6-digit prefix (NPA-NXX) it decides whether all 10,000 completions are valid, none
//! are, or it depends on later digits (an exception, stored with a 10,000-bit map of its
//! valid line numbers). The crate's matching semantics are reproduced: a pattern matches when
//! it matches a prefix of the number (`find` at position 0) and the pattern's possible lengths
//! allow 10 digits.
//!
//! The output table is checked against the crate itself by `core/tests/phone_nanp.rs`.

use phonenumber::metadata::{Descriptor, DATABASE};
use std::collections::HashMap;

/// A regex syntax tree over the digits (a set is a 10-bit mask).
#[derive(Debug, Clone)]
enum Node {
    Set(u16),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn alt(&mut self) -> Node {
        let mut alts = vec![self.concat()];
        while self.peek() == Some(b'|') {
            self.i += 1;
            alts.push(self.concat());
        }
        Node::Alt(alts)
    }
    fn concat(&mut self) -> Node {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let atom = self.atom();
            items.push(self.quantifiers(atom));
        }
        Node::Concat(items)
    }
    fn number(&mut self) -> u32 {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .unwrap()
            .parse()
            .expect("number in quantifier")
    }
    fn quantifiers(&mut self, mut atom: Node) -> Node {
        loop {
            match self.peek() {
                Some(b'?') => {
                    self.i += 1;
                    atom = Node::Repeat(Box::new(atom), 0, Some(1));
                }
                Some(b'*') => {
                    self.i += 1;
                    atom = Node::Repeat(Box::new(atom), 0, None);
                }
                Some(b'+') => {
                    self.i += 1;
                    atom = Node::Repeat(Box::new(atom), 1, None);
                }
                Some(b'{') => {
                    self.i += 1;
                    let min = self.number();
                    let max = match self.peek() {
                        Some(b'}') => Some(min),
                        Some(b',') => {
                            self.i += 1;
                            if self.peek() == Some(b'}') {
                                None
                            } else {
                                Some(self.number())
                            }
                        }
                        c => panic!("unexpected {c:?} in quantifier"),
                    };
                    assert_eq!(self.peek(), Some(b'}'));
                    self.i += 1;
                    atom = Node::Repeat(Box::new(atom), min, max);
                }
                _ => return atom,
            }
        }
    }
    fn atom(&mut self) -> Node {
        let c = self.peek().unwrap();
        self.i += 1;
        match c {
            b'(' => {
                if self.s[self.i..].starts_with(b"?:") {
                    self.i += 2;
                }
                let inner = self.alt();
                assert_eq!(self.peek(), Some(b')'), "unclosed group");
                self.i += 1;
                inner
            }
            b'[' => {
                let mut set = 0u16;
                while self.peek() != Some(b']') {
                    let a = self.class_digit();
                    if self.peek() == Some(b'-') {
                        self.i += 1;
                        let b = self.class_digit();
                        for d in a..=b {
                            set |= 1 << d;
                        }
                    } else {
                        set |= 1 << a;
                    }
                }
                self.i += 1;
                Node::Set(set)
            }
            b'\\' => {
                let e = self.peek().unwrap();
                self.i += 1;
                assert_eq!(e, b'd', "unsupported escape \\{}", e as char);
                Node::Set(0x3ff)
            }
            b'0'..=b'9' => Node::Set(1 << (c - b'0')),
            _ => panic!("unsupported regex syntax {:?}", c as char),
        }
    }
    fn class_digit(&mut self) -> u8 {
        let c = self.peek().unwrap();
        self.i += 1;
        if c == b'\\' {
            panic!("escape in class");
        }
        assert!(c.is_ascii_digit(), "non-digit {:?} in class", c as char);
        c - b'0'
    }
}

/// A Thompson NFA: each state has epsilon edges and at most one digit-set edge.
#[derive(Default)]
struct Nfa {
    eps: Vec<Vec<usize>>,
    edge: Vec<Option<(u16, usize)>>,
    start: usize,
    accept: usize,
}

impl Nfa {
    fn state(&mut self) -> usize {
        self.eps.push(Vec::new());
        self.edge.push(None);
        self.eps.len() - 1
    }
    fn compile(&mut self, node: &Node) -> (usize, usize) {
        match node {
            Node::Set(set) => {
                let (a, b) = (self.state(), self.state());
                self.edge[a] = Some((*set, b));
                (a, b)
            }
            Node::Concat(items) => {
                let start = self.state();
                let mut end = start;
                for item in items {
                    let (a, b) = self.compile(item);
                    self.eps[end].push(a);
                    end = b;
                }
                (start, end)
            }
            Node::Alt(alts) => {
                let (start, end) = (self.state(), self.state());
                for alt in alts {
                    let (a, b) = self.compile(alt);
                    self.eps[start].push(a);
                    self.eps[b].push(end);
                }
                (start, end)
            }
            Node::Repeat(inner, min, max) => {
                let start = self.state();
                let mut end = start;
                for _ in 0..*min {
                    let (a, b) = self.compile(inner);
                    self.eps[end].push(a);
                    end = b;
                }
                match max {
                    Some(max) => {
                        let out = self.state();
                        self.eps[end].push(out);
                        for _ in *min..*max {
                            let (a, b) = self.compile(inner);
                            self.eps[end].push(a);
                            self.eps[b].push(out);
                            end = b;
                        }
                        (start, out)
                    }
                    None => {
                        let (a, b) = self.compile(inner);
                        let out = self.state();
                        self.eps[end].push(a);
                        self.eps[end].push(out);
                        self.eps[b].push(a);
                        self.eps[b].push(out);
                        (start, out)
                    }
                }
            }
        }
    }
    fn new(pattern: &str) -> Nfa {
        let clean: Vec<u8> = pattern
            .bytes()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let mut p = Parser { s: &clean, i: 0 };
        let ast = p.alt();
        assert_eq!(p.i, clean.len(), "trailing syntax in {pattern}");
        let mut nfa = Nfa::default();
        let (s, a) = nfa.compile(&ast);
        nfa.start = s;
        nfa.accept = a;
        nfa
    }
    fn closure(&self, mut set: Vec<usize>) -> Vec<usize> {
        let mut stack = set.clone();
        while let Some(s) = stack.pop() {
            for &t in &self.eps[s] {
                if !set.contains(&t) {
                    set.push(t);
                    stack.push(t);
                }
            }
        }
        set.sort_unstable();
        set
    }
    fn step(&self, set: &[usize], digit: u8) -> Vec<usize> {
        let next: Vec<usize> = set
            .iter()
            .filter_map(|&s| self.edge[s])
            .filter(|(mask, _)| mask & (1 << digit) != 0)
            .map(|(_, t)| t)
            .collect();
        self.closure(next)
    }
}

/// One pattern's matching state: its NFA states, or `None` once it has matched a prefix.
type Cursor = Option<Vec<usize>>;

struct Region {
    id: String,
    leading: Option<usize>,
    general: usize,
    types: Vec<usize>,
}

struct Machine {
    nfas: Vec<Nfa>,
    regions: Vec<Region>,
}

impl Machine {
    fn add(&mut self, pattern: &str) -> usize {
        self.nfas.push(Nfa::new(pattern));
        self.nfas.len() - 1
    }
    fn add_desc(&mut self, d: Option<&Descriptor>) -> Option<usize> {
        let d = d?;
        if !d.possible_length().is_empty() && !d.possible_length().contains(&10) {
            return None;
        }
        Some(self.add(d.national_number().as_str()))
    }
    fn initial(&self) -> Vec<Cursor> {
        self.nfas
            .iter()
            .map(|n| {
                let set = n.closure(vec![n.start]);
                if set.contains(&n.accept) {
                    None
                } else {
                    Some(set)
                }
            })
            .collect()
    }
    fn step(&self, cursors: &[Cursor], digit: u8) -> Vec<Cursor> {
        cursors
            .iter()
            .zip(&self.nfas)
            .map(|(c, n)| match c {
                None => None,
                Some(set) => {
                    let next = n.step(set, digit);
                    if next.contains(&n.accept) {
                        None
                    } else {
                        Some(next)
                    }
                }
            })
            .collect()
    }
    /// libphonenumber's region choice and type check, given which patterns matched a prefix.
    fn valid(&self, cursors: &[Cursor]) -> bool {
        let matched = |i: usize| cursors[i].is_none();
        let region_valid = |r: &Region| matched(r.general) && r.types.iter().any(|&t| matched(t));
        for r in &self.regions {
            match r.leading {
                Some(l) if matched(l) => return region_valid(r),
                Some(_) => {}
                None if region_valid(r) => return true,
                None => {}
            }
        }
        false
    }
}

/// Validity of all completions of a prefix: all valid, none, or mixed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    All,
    None,
    Mixed,
}

fn classify(
    m: &Machine,
    depth: usize,
    cursors: &[Cursor],
    memo: &mut HashMap<(usize, Vec<Cursor>), Class>,
) -> Class {
    if depth == 10 {
        return if m.valid(cursors) {
            Class::All
        } else {
            Class::None
        };
    }
    let key = (depth, cursors.to_vec());
    if let Some(&c) = memo.get(&key) {
        return c;
    }
    let mut out = None;
    for d in 0..10 {
        let c = classify(m, depth + 1, &m.step(cursors, d), memo);
        out = match out {
            None => Some(c),
            Some(prev) if prev == c => Some(c),
            Some(_) => Some(Class::Mixed),
        };
    }
    let c = out.unwrap();
    memo.insert(key, c);
    c
}

fn main() {
    let mut m = Machine {
        nfas: Vec::new(),
        regions: Vec::new(),
    };
    for id in DATABASE.region(&1).expect("regions of +1") {
        let meta = DATABASE.by_id(id).expect("metadata");
        let leading = meta.leading_digits().map(|r| r.as_str().to_string());
        let leading = leading.map(|p| m.add(&p));
        let d = meta.descriptors();
        let general = m
            .add_desc(Some(d.general()))
            .expect("general desc allows 10 digits");
        // number_type's order; the order does not change validity.
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .filter_map(|t| m.add_desc(t))
        .collect();
        m.regions.push(Region {
            id: id.to_string(),
            leading,
            general,
            types,
        });
    }

    let mut memo = HashMap::new();
    let mut all6 = vec![false; 1_000_000];
    let mut mixed: Vec<(u32, Vec<bool>)> = Vec::new();
    // Depth-first over the 6-digit prefixes, keeping the cursors of each level.
    let root = m.initial();
    let mut level: Vec<Vec<Cursor>> = vec![root];
    walk(&m, &mut memo, &mut level, 0, &mut all6, &mut mixed);

    assert!(mixed.windows(2).all(|w| w[0].0 < w[1].0));
    let regions: Vec<&str> = m.regions.iter().map(|r| r.id.as_str()).collect();
    eprintln!(
        "regions {}, valid prefixes {}, mixed prefixes {}",
        regions.len(),
        all6.iter().filter(|&&b| b).count(),
        mixed.len()
    );
    emit(&regions, &all6, &mixed);
}

fn walk(
    m: &Machine,
    memo: &mut HashMap<(usize, Vec<Cursor>), Class>,
    level: &mut Vec<Vec<Cursor>>,
    prefix: u32,
    all6: &mut [bool],
    mixed: &mut Vec<(u32, Vec<bool>)>,
) {
    let depth = level.len() - 1;
    if depth == 6 {
        let cursors = level.last().unwrap();
        match classify(m, 6, cursors, memo) {
            Class::All => all6[prefix as usize] = true,
            Class::None => {}
            Class::Mixed => {
                let mut lines = vec![false; 10_000];
                for (line, slot) in lines.iter_mut().enumerate() {
                    let mut c = cursors.clone();
                    for d in format!("{line:04}").bytes() {
                        c = m.step(&c, d - b'0');
                    }
                    *slot = m.valid(&c);
                }
                mixed.push((prefix, lines));
            }
        }
        return;
    }
    for d in 0..10u8 {
        let next = m.step(level.last().unwrap(), d);
        level.push(next);
        walk(m, memo, level, prefix * 10 + u32::from(d), all6, mixed);
        level.pop();
    }
}

fn bytes_literal(bits: impl Iterator<Item = bool>) -> (String, usize) {
    let bits: Vec<bool> = bits.collect();
    let bytes: Vec<u8> = bits
        .chunks(8)
        .map(|c| c.iter().enumerate().map(|(i, &b)| u8::from(b) << i).sum())
        .collect();
    let mut s = String::from("*b\"");
    for b in &bytes {
        s.push_str(&format!("\\x{b:02x}"));
    }
    s.push('"');
    (s, bytes.len())
}

fn emit(regions: &[&str], all6: &[bool], mixed: &[(u32, Vec<bool>)]) {
    // One 1,000-bit row per NPA (bit NXX); identical rows are stored once.
    let mut rows: Vec<&[bool]> = vec![&all6[..1000]];
    let mut npa_row = Vec::new();
    for npa in 0..1000 {
        let row = &all6[npa * 1000..npa * 1000 + 1000];
        let id = match rows.iter().position(|r| *r == row) {
            Some(id) => id,
            None => {
                rows.push(row);
                rows.len() - 1
            }
        };
        npa_row.push(id);
    }
    assert!(rows[0].iter().all(|b| !b), "NPA 000 has valid numbers");
    let valid = all6.iter().filter(|&&b| b).count();
    println!("// @generated by `cargo run -p leadroute-core --example gen_nanp_table --release`");
    println!("// (core/examples/gen_nanp_table.rs) from the `phonenumber` crate's metadata,");
    println!("// libphonenumber 9.0.33. Do not edit; regenerate when the crate is upgraded.");
    println!("//");
    println!(
        "// NANP regions covered (metadata order): {}.",
        regions.join(", ")
    );
    println!("// {valid} of the 1,000,000 NPA-NXX prefixes are valid for all 10,000 line numbers;");
    println!(
        "// {} prefixes depend on the line number (see `MIXED`); the rest are invalid.",
        mixed.len()
    );
    println!();
    println!("/// libphonenumber metadata version the table was derived from.");
    println!("pub(crate) const METADATA_VERSION: &str = \"9.0.33\";");
    println!();
    println!("/// The regions sharing country code 1, in metadata order.");
    println!(
        "pub(crate) static REGIONS: [&str; {}] = [{}];",
        regions.len(),
        regions
            .iter()
            .map(|r| format!("{r:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!("/// Row of each NPA (area code, 000-999) in [`ROWS`].");
    println!("#[rustfmt::skip]");
    println!("pub(crate) static NPA_ROW: [u8; 1000] = [");
    for chunk in npa_row.chunks(25) {
        let line: Vec<String> = chunk.iter().map(|i| i.to_string()).collect();
        println!("    {},", line.join(", "));
    }
    println!("];");
    println!();
    println!("/// Distinct NXX rows: bit `nxx % 8` of byte `nxx / 8` is set when every number");
    println!("/// NPA-NXX-XXXX of an NPA using this row is valid. Row 0 is all invalid.");
    println!("pub(crate) static ROWS: [[u8; 125]; {}] = [", rows.len());
    for row in &rows {
        let (lit, n) = bytes_literal(row.iter().copied());
        assert_eq!(n, 125);
        println!("    {lit},");
    }
    println!("];");
    println!();
    println!(
        "/// NPA-NXX prefixes (as 6-digit numbers, sorted) whose validity depends on the line"
    );
    println!("/// number, each with a 10,000-bit map (bit `line % 8` of byte `line / 8`) of valid lines.");
    println!(
        "pub(crate) static MIXED: [(u32, [u8; 1250]); {}] = [",
        mixed.len()
    );
    for (p, lines) in mixed {
        let (lit, n) = bytes_literal(lines.iter().copied());
        assert_eq!(n, 1250);
        println!("    ({p}, {lit}),");
    }
    println!("];");
    eprintln!("{} distinct NPA rows", rows.len());
}
