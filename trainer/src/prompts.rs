//! The student's prompts of a step: the training classes in one of the 28 templates plus the bare names, as token
//! ids tokenized once per template and packed end to end ([`PackedLayout`]: the text tower runs each prompt's own
//! tokens only, in one layout whose sizes fit every template, so a recorded graph's shapes never change).
use crate::error::Result;
use froster_model::{prompt_ids, PackedLayout, Tokenizer, BARE, CONTEXT, NUM_TEMPLATES};
use std::collections::HashMap;
use tch::{Device, Tensor};

/// The training classes' prompts, by template.
pub struct Prompts {
    tok: Tokenizer,
    classes: Vec<String>,
    /// Each template's ids [C, 77] on the CPU.
    cache: HashMap<usize, Tensor>,
    /// Each template's step prompts packed in [`Prompts::layout`], on the device last asked for (a step copies
    /// nothing over the bus once its template has been seen).
    packed: HashMap<usize, Tensor>,
    /// [`Prompts::layout`], once computed.
    layout: Option<PackedLayout>,
}

impl Prompts {
    /// The prompts of `classes` (nothing tokenized yet).
    pub fn new(classes: Vec<String>) -> Self {
        Prompts { tok: Tokenizer::new(), classes, cache: HashMap::new(), packed: HashMap::new(), layout: None }
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

    /// A step's ids [2C, 77]: `template`'s prompts, then the bare names.
    pub fn step_ids(&mut self, template: usize) -> Result<Tensor> {
        Ok(Tensor::cat(&[self.template(template)?, self.template(BARE)?], 0))
    }

    /// One layout for every step's packed prompts: it fits each template's (and the bare names twice).
    pub fn layout(&mut self) -> Result<PackedLayout> {
        if let Some(l) = self.layout {
            return Ok(l);
        }
        let batches = (0..NUM_TEMPLATES).chain([BARE]).map(|t| self.step_ids(t)).collect::<Result<Vec<_>>>()?;
        let layout = PackedLayout::fitting(&batches)?;
        self.layout = Some(layout);
        Ok(layout)
    }

    /// A step's prompts ([`Prompts::step_ids`]) packed in [`Prompts::layout`], on `device`: read them with
    /// `layout.text(..)`.
    pub fn step_packed(&mut self, template: usize, device: Device) -> Result<Tensor> {
        if let Some(p) = self.packed.get(&template).filter(|p| p.device() == device) {
            return Ok(p.shallow_clone());
        }
        let layout = self.layout()?;
        let packed = layout.pack(&self.step_ids(template)?)?.to_device(device);
        self.packed.insert(template, packed.shallow_clone());
        Ok(packed)
    }

    /// A step's prompts on `device`: packed in [`Prompts::layout`], returned with it, or (`packed` false) ids
    /// [2C, len] cut at the layout's longest prompt, a length holding every template's EOTs.
    pub fn step_text(
        &mut self,
        template: usize,
        packed: bool,
        device: Device,
    ) -> Result<(Option<PackedLayout>, Tensor)> {
        let layout = self.layout()?;
        match packed {
            true => Ok((Some(layout), self.step_packed(template, device)?)),
            false => Ok((None, self.step_ids(template)?.narrow(1, 0, layout.max_len).to_device(device))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_templates_prompts_pack_in_the_one_layout() {
        let names = vec!["run".to_string(), "a much longer name of a class with many words in it".to_string()];
        let mut p = Prompts::new(names);
        let layout = p.layout().unwrap();
        assert_eq!(layout.prompts, 4);
        let mut totals = Vec::new();
        for t in (0..NUM_TEMPLATES).chain([BARE]) {
            let ids = p.step_ids(t).unwrap();
            let text = layout.text(&p.step_packed(t, Device::Cpu).unwrap());
            let lens = ids.argmax(-1, false) + 1;
            assert_eq!(text.eot, lens.cumsum(0, tch::Kind::Int64) - 1, "template {t}: EOT rows");
            assert!(lens.max().int64_value(&[]) <= layout.max_len);
            totals.push(lens.sum(tch::Kind::Int64).int64_value(&[]));
        }
        assert_eq!(layout.tokens, *totals.iter().max().unwrap(), "as small as the longest template needs");
    }
}
