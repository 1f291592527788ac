//! Class names: readable forms of folder names, and the reference's Kinetics label maps.
use std::collections::{BTreeSet, HashMap};

/// The reference's Kinetics label maps (`label_db/k*-cls2index.json`): the sorted class names.
const MAPS: [(&str, &str); 2] = [
    ("K400 label map", include_str!("../../data/k400-cls2index.json")),
    ("K600 label map", include_str!("../../data/k600-cls2index.json")),
];

/// A comparison key that survives the ways downloaders rewrite class names in folder names
/// (`arm_wrestling`, `Arm Wrestling`, `petting_animal_(not_cat)`): lower-case letters and digits only.
pub fn key(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A readable class name from a folder name: `brush_hair` -> `brush hair`, `ApplyEyeMakeup` ->
/// `Apply Eye Makeup` (CLIP reads words, not identifiers).
pub fn readable(name: &str) -> String {
    let spaced = name.replace('_', " ");
    if spaced.contains(' ') {
        return spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let mut out = String::new();
    let mut prev_lower = false;
    for c in spaced.chars() {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.push(c);
    }
    out
}

/// The Kinetics map (its name and index -> class) whose classes include every one of `names`, when at least
/// `min_share` of the map's classes occur; compared by [`key`].
pub fn kinetics_map(names: &BTreeSet<String>, min_share: f64) -> Option<(&'static str, Vec<String>)> {
    MAPS.iter().find_map(|(title, json)| {
        let classes = parse_map(json);
        let keys: HashMap<String, usize> = classes.iter().enumerate().map(|(i, c)| (key(c), i)).collect();
        let all_in = names.iter().all(|n| keys.contains_key(&key(n)));
        let share = names.len() as f64 / classes.len() as f64;
        (all_in && !names.is_empty() && share >= min_share).then_some((*title, classes))
    })
}

fn parse_map(json: &str) -> Vec<String> {
    let map: HashMap<String, usize> = serde_json::from_str(json).unwrap_or_default();
    let mut classes = vec![String::new(); map.len()];
    for (name, i) in map {
        if let Some(slot) = classes.get_mut(i) {
            *slot = name;
        }
    }
    classes
}

/// Index of each class under `classes` by [`key`].
pub fn index_by_key(classes: &[String]) -> HashMap<String, i64> {
    classes.iter().enumerate().map(|(i, c)| (key(c), i as i64)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_names() {
        assert_eq!(readable("brush_hair"), "brush hair");
        assert_eq!(readable("ApplyEyeMakeup"), "Apply Eye Makeup");
        assert_eq!(readable("YoYo"), "Yo Yo");
        assert_eq!(readable("abseiling"), "abseiling");
    }

    #[test]
    fn kinetics_maps_are_the_sorted_names() {
        for (_, json) in MAPS {
            let classes = parse_map(json);
            let mut sorted = classes.clone();
            sorted.sort();
            assert_eq!(classes, sorted);
            assert!(classes.iter().all(|c| !c.is_empty()));
        }
        let some: BTreeSet<String> = ["arm_wrestling", "Abseiling"].iter().map(|s| s.to_string()).collect();
        let (title, classes) = kinetics_map(&some, 0.0).unwrap();
        assert_eq!((title, classes.len()), ("K400 label map", 400));
        assert_eq!(index_by_key(&classes)[&key("arm_wrestling")], 6);
        assert!(kinetics_map(&some, 0.5).is_none(), "two classes are not half of K400");
    }
}
