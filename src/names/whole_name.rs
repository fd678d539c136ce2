//! A name as a registrar typed it, to the parts that are compared: placeholder
//! tokens removed, connectors dropped, particles joined, and a whole name typed
//! into one field with the family name first in capitals taken apart.
//!
//! What is a particle, a connector or a placeholder is in
//! `matching-rules/names/particles.toml` and `placeholders.toml`; this module
//! only applies them.

use super::normalize;
use super::variants::{NameRules, Particle, ParticleKind};

/// Which particle joins [`NameRules::parts_of`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joins {
    /// Every join, "when known" ones included.
    All,
    /// Every join and family particles.
    Family,
    /// Only joins that do not depend on the result.
    Unconditional,
    /// Unconditional joins and family particles.
    FamilyUnconditional,
}

/// A whole name split into family and given parts (each already compared form:
/// normalized, particles joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeName {
    pub family: Vec<String>,
    pub given: Vec<String>,
}

impl NameRules {
    /// The parts of a name as compared: normalized tokens, without placeholder
    /// tokens (FNU, LNU), without connectors between two parts (bin, ibn, ould,
    /// "son of"), with prefixes, articles and suffixes joined to their part
    /// ("Abdul Rahman", "Abd al-Rahman" → "abdulrahman", "abdalrahman"; "Rahmat
    /// Ullah" → "rahmatullah"; "Abdi Rahman" → "abdirahman" because that is a known
    /// name, while "Cabdi Nuur" stays two parts).
    pub fn parts(&self, text: &str) -> Vec<String> {
        self.parts_of(&normalize(text), Joins::All)
    }

    /// [`parts`](Self::parts) for a family name: family particles (van, de, von)
    /// also join the part after them ("van der Berg" → "vanderberg").
    pub fn family_parts(&self, text: &str) -> Vec<String> {
        self.parts_of(&normalize(text), Joins::Family)
    }

    /// The parts with only the joins that never depend on the result ("always"
    /// prefixes and suffixes, articles; family particles with `family`): "Jean
    /// Pierre" and "Abdi Rahman" stay two parts. Fuzzy search compares these, so
    /// that a typo in one half ("Jean Piere") cannot decide whether the halves are
    /// joined; [`compounds`](Self::compounds) gives the joined forms besides.
    pub fn loose_parts(&self, text: &str, family: bool) -> Vec<String> {
        let joins = if family {
            Joins::FamilyUnconditional
        } else {
            Joins::Unconditional
        };
        self.parts_of(&normalize(text), joins)
    }

    /// [`loose_parts`](Self::loose_parts) of an already normalized text, joined by
    /// single spaces; the text itself, without copying, when none of its tokens is
    /// a particle or a placeholder (most names).
    pub fn loose_value(&self, normalized: String, family: bool) -> String {
        let plain = normalized.split(' ').all(|t| {
            !self.may_be_special(t)
                || (!self.particles.contains_key(t) && !self.is_placeholder_token(t))
        });
        if plain {
            return normalized;
        }
        let joins = if family {
            Joins::FamilyUnconditional
        } else {
            Joins::Unconditional
        };
        self.parts_of(&normalized, joins).join(" ")
    }

    /// The compounds that [`parts`](Self::parts) forms from "when known" particles
    /// of a normalized text and [`loose_parts`](Self::loose_parts) leaves apart
    /// ("abdi rahman" → "abdirahman").
    pub fn compounds(&self, normalized: &str) -> Vec<String> {
        if !normalized
            .split(' ')
            .any(|t| self.may_be_special(t) && self.particles.contains_key(t))
        {
            return Vec::new();
        }
        let loose = self.parts_of(normalized, Joins::Unconditional);
        self.parts_of(normalized, Joins::All)
            .into_iter()
            .filter(|p| !loose.contains(p))
            .collect()
    }

    /// The parts of an already normalized text (`a-z0-9` tokens separated by single
    /// spaces).
    pub(crate) fn parts_of(&self, normalized: &str, joins: Joins) -> Vec<String> {
        let family = matches!(joins, Joins::Family | Joins::FamilyUnconditional);
        let conditional = matches!(joins, Joins::All | Joins::Family);
        let toks: Vec<&str> = normalized
            .split(' ')
            .filter(|t| !t.is_empty() && !self.is_placeholder_token(t))
            .collect();
        let n = toks.len();
        let mut out: Vec<String> = Vec::with_capacity(n);
        let mut i = 0;
        while i < n {
            if let Some(p) = self.particle_at(&toks, i, family) {
                let len = p.tokens.len();
                match p.kind {
                    ParticleKind::Connector => {
                        if !out.is_empty() && i + len < n {
                            i += len;
                            continue;
                        }
                    }
                    ParticleKind::Prefix
                    | ParticleKind::PrefixIfKnown
                    | ParticleKind::Article
                    | ParticleKind::FamilyParticle => {
                        let mut joined = toks[i..i + len].concat();
                        let mut j = i + len;
                        // Articles (and in family names, family particles) that
                        // follow are part of the compound: "abd al rahman".
                        while j < n {
                            match self.particle_at(&toks, j, family) {
                                Some(q)
                                    if matches!(
                                        q.kind,
                                        ParticleKind::Article | ParticleKind::FamilyParticle
                                    ) && j + q.tokens.len() < n =>
                                {
                                    joined.extend(toks[j..j + q.tokens.len()].iter().copied());
                                    j += q.tokens.len();
                                }
                                _ => break,
                            }
                        }
                        let next_is_connector = j < n
                            && self
                                .particle_at(&toks, j, family)
                                .is_some_and(|q| q.kind == ParticleKind::Connector);
                        if j < n && !next_is_connector {
                            let candidate = format!("{joined}{}", toks[j]);
                            let join = p.kind != ParticleKind::PrefixIfKnown
                                || (conditional && self.variant_group(&candidate).is_some());
                            if join {
                                out.push(candidate);
                                i = j + 1;
                                continue;
                            }
                        }
                    }
                    ParticleKind::Suffix | ParticleKind::SuffixIfKnown => {
                        if let Some(prev) = out.last() {
                            let candidate = format!("{prev}{}", toks[i..i + len].concat());
                            let join = p.kind == ParticleKind::Suffix
                                || (conditional && self.variant_group(&candidate).is_some());
                            if join {
                                *out.last_mut().expect("checked") = candidate;
                                i += len;
                                continue;
                            }
                        }
                    }
                }
            }
            out.push(toks[i].to_owned());
            i += 1;
        }
        out
    }

    /// The words of a place name as compared: normalized tokens without
    /// placeholder tokens, articles and connectors ("El Fasher" → fasher, "Al
    /// Qamishli" → qamishli). Places keep their other words apart: no joins.
    pub fn place_parts(&self, text: &str) -> Vec<String> {
        let normalized = normalize(text);
        let toks: Vec<&str> = normalized.split(' ').filter(|t| !t.is_empty()).collect();
        let mut out = Vec::with_capacity(toks.len());
        let mut i = 0;
        while i < toks.len() {
            let t = toks[i];
            if self.may_be_special(t) {
                if self.is_placeholder_token(t) {
                    i += 1;
                    continue;
                }
                if let Some(p) = self.particle_at(&toks, i, false) {
                    if matches!(p.kind, ParticleKind::Article | ParticleKind::Connector)
                        && toks.len() > p.tokens.len()
                    {
                        i += p.tokens.len();
                        continue;
                    }
                }
            }
            out.push(t.to_owned());
            i += 1;
        }
        out
    }

    /// The particle starting at token `i`, longest first.
    fn particle_at(&self, toks: &[&str], i: usize, family: bool) -> Option<&Particle> {
        let list = self.particles.get(toks[i])?;
        list.iter().find(|p| {
            (family || p.kind != ParticleKind::FamilyParticle)
                && toks.len() >= i + p.tokens.len()
                && p.tokens.iter().zip(&toks[i..]).all(|(a, b)| a == b)
        })
    }

    /// A whole name typed into one field with the family name first, either in
    /// capitals ("NGUYEN Van An", "MUKENDI Kabasele Jean", "AL-KHATIB Omar") or
    /// before a comma ("Kamara, Fatmata"): the family and given parts. `None` when
    /// the text does not say which part is the family name (all capitals, no
    /// capitals first, a single word).
    pub fn split_family_first(&self, text: &str) -> Option<WholeName> {
        self.split_family_first_with(text, false)
    }

    /// [`split_family_first`](Self::split_family_first) with
    /// [`loose_parts`](Self::loose_parts) when `loose`.
    pub fn split_family_first_with(&self, text: &str, loose: bool) -> Option<WholeName> {
        let family_parts = |t: &str| {
            if loose {
                self.loose_parts(t, true)
            } else {
                self.family_parts(t)
            }
        };
        let parts = |t: &str| {
            if loose {
                self.loose_parts(t, false)
            } else {
                self.parts(t)
            }
        };
        let text = text.trim();
        let mut commas = text.match_indices(',');
        if let (Some((at, _)), None) = (commas.next(), commas.next()) {
            let family = family_parts(&text[..at]);
            let given = parts(&text[at + 1..]);
            return (!given.is_empty() && !family.is_empty())
                .then_some(WholeName { family, given });
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let in_capitals = |w: &str| {
            let mut letters = w.chars().filter(|c| c.is_alphabetic()).peekable();
            letters.peek().is_some()
                && w.chars().filter(|c| c.is_alphabetic()).count() >= 2
                && letters.all(char::is_uppercase)
        };
        let has_lower = |w: &str| w.chars().any(char::is_lowercase);
        let k = words.iter().take_while(|w| in_capitals(w)).count();
        if k == 0 || k == words.len() || !words[k..].iter().any(|w| has_lower(w)) {
            return None;
        }
        let family = family_parts(&words[..k].join(" "));
        let given = parts(&words[k..].join(" "));
        (!given.is_empty()).then_some(WholeName { family, given })
    }
}
