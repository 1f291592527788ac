//! The student's prompts of a step: the training classes in one of the 28 templates plus the bare names, as token
//! ids tokenized once per template and cut to the length the text tower runs at.
use crate::error::Result;
use froster_model::{prompt_ids, Tokenizer, BARE, CONTEXT, NUM_TEMPLATES};
use std::collections::HashMap;
use tch::{Device, Tensor};

/// The training classes' prompts, by template.
pub struct Prompts {
    tok: Tokenizer,
    classes: Vec<String>,
    /// Each template's ids [C, 77] on the CPU.
    cache: HashMap<usize, Tensor>,
    /// [`Prompts::fixed_len`], once computed.
    fixed: Option<i64>,
}

impl Prompts {
    /// The prompts of `classes` (nothing tokenized yet).
    pub fn new(classes: Vec<String>) -> Self {
        Prompts { tok: Tokenizer::new(), classes, cache: HashMap::new(), fixed: None }
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tok
    }

    /// The class names.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Template `t`'s ids [C, 77] on the CPU.
    pub fn template(&mut self, t: usize) -> Result<Tensor> {
        if let Some(ids) = self.cache.get(&t) {
            return Ok(ids.shallow_clone());
        }
        let ids = prompt_ids(&self.tok, &[t], &self.classes, CONTEXT)?;
        self.cache.insert(t, ids.shallow_clone());
        Ok(ids)
    }

    /// A step's ids [2C, len] (`template`, then the bare names) on `device`: cut after their own longest EOT
    /// (len None), or at `len`, which must hold every EOT (e.g. [`Prompts::fixed_len`]).
    pub fn step_ids(&mut self, template: usize, len: Option<i64>, device: Device) -> Result<Tensor> {
        let ids = Tensor::cat(&[self.template(template)?, self.template(BARE)?], 0);
        let len = len.unwrap_or_else(|| longest_eot(&ids) + 1);
        Ok(ids.narrow(1, 0, len).to_device(device))
    }

    /// One length for every step: past the longest EOT of all templates (a recorded graph's fixed shape).
    pub fn fixed_len(&mut self) -> Result<i64> {
        if let Some(len) = self.fixed {
            return Ok(len);
        }
        let mut len = 1;
        for t in (0..NUM_TEMPLATES).chain([BARE]) {
            len = len.max(longest_eot(&self.template(t)?) + 1);
        }
        self.fixed = Some(len);
        Ok(len)
    }
}

/// The position of the longest EOT (the largest id) of CPU ids [S, L].
fn longest_eot(ids: &Tensor) -> i64 {
    ids.argmax(-1, false).max().int64_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_are_cut_after_the_longest_eot_or_at_the_fixed_length() {
        let names = vec!["run".to_string(), "a much longer name of a class with many words in it".to_string()];
        let mut p = Prompts::new(names);
        let full = Tensor::cat(&[p.template(3).unwrap(), p.template(BARE).unwrap()], 0);
        let own = p.step_ids(3, None, Device::Cpu).unwrap();
        let eot = own.argmax(-1, false);
        assert_eq!(own.size()[1], eot.max().int64_value(&[]) + 1, "cut right after the longest EOT");
        assert_eq!(own, full.narrow(1, 0, own.size()[1]));
        let fixed = p.fixed_len().unwrap();
        assert!(fixed >= own.size()[1] && fixed <= CONTEXT as i64);
        for t in [0, 7, 27, BARE] {
            let ids = p.step_ids(t, Some(fixed), Device::Cpu).unwrap();
            assert_eq!(ids.size(), [4, fixed]);
            assert!(ids.argmax(-1, false).max().int64_value(&[]) < fixed, "template {t} keeps its EOT");
        }
    }
}
