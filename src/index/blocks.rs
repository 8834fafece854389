//! The segments of an index as a two-level sequence: blocks of ~`BLOCK` segments.
//!
//! A publish must hand readers every segment and the CRC-32 of the whole. With a flat list
//! of 1,500 segments (130,000 versions) that is 3,000 reference-count bumps and CRC joins
//! on scattered memory per upload, a third of its cost. Grouped in blocks that carry their
//! joined CRCs, a change rebuilds the one or two blocks it touches and a publish joins
//! ~50 block CRCs: O(√n) instead of O(n).

use std::ops::RangeInclusive;
use std::sync::Arc;

use super::crc::CrcPart;
use super::piece::Piece;

/// Segments per block; a block is split past twice this and merged below half.
const BLOCK: usize = 32;

/// A run of consecutive charts: every name in `[first, next segment's first)`, as text and
/// compressed.
#[derive(Debug)]
pub struct Segment {
    pub first: String,
    pub piece: Piece,
}

/// Consecutive segments with the CRCs of their texts and of their deflate streams joined.
#[derive(Debug)]
pub struct Block {
    pub segments: Vec<Arc<Segment>>,
    pub text_crc: CrcPart,
    pub deflate_crc: CrcPart,
}

impl Block {
    fn new(segments: Vec<Arc<Segment>>) -> Block {
        let (mut text_crc, mut deflate_crc) = (CrcPart::empty(), CrcPart::empty());
        for segment in &segments {
            text_crc = text_crc.then(&segment.piece.text_crc);
            deflate_crc = deflate_crc.then(&segment.piece.deflate_crc);
        }
        Block { segments, text_crc, deflate_crc }
    }
}

/// The segment sequence. Cloning it (for a snapshot) copies one pointer per block.
#[derive(Debug, Clone, Default)]
pub struct Blocks {
    blocks: Vec<Arc<Block>>,
    /// Index of each block's first segment in the whole sequence, and the total at the end.
    starts: Vec<usize>,
}

impl Blocks {
    pub fn new(segments: Vec<Arc<Segment>>) -> Blocks {
        let mut blocks = Blocks { blocks: group(segments), starts: Vec::new() };
        blocks.recount();
        blocks
    }

    pub fn blocks(&self) -> &[Arc<Block>] {
        &self.blocks
    }

    pub fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Segment>> {
        self.blocks.iter().flat_map(|block| block.segments.iter())
    }

    pub fn get(&self, index: usize) -> Option<&Arc<Segment>> {
        let (block, at) = self.position(index)?;
        self.blocks[block].segments.get(at)
    }

    /// The index of the last segment whose first chart sorts at or before `name` (0 if none).
    pub fn locate(&self, name: &str) -> usize {
        let block = self.blocks.partition_point(|b| b.segments[0].first.as_str() <= name).saturating_sub(1);
        let Some(found) = self.blocks.get(block) else { return 0 };
        let at = found.segments.partition_point(|s| s.first.as_str() <= name).saturating_sub(1);
        self.starts[block] + at
    }

    /// Replaces segment `index`.
    pub fn set(&mut self, index: usize, segment: Arc<Segment>) {
        let (block, at) = self.position(index).expect("segment index in range");
        let mut segments = self.blocks[block].segments.clone();
        segments[at] = segment;
        self.blocks[block] = Arc::new(Block::new(segments));
    }

    /// Replaces segments `range` with `replacement`, rebuilding only the blocks involved.
    pub fn splice(&mut self, range: RangeInclusive<usize>, replacement: Vec<Arc<Segment>>) {
        let (mut first, from) = self.position(*range.start()).expect("range start in range");
        let (mut last, to) = self.position(*range.end()).expect("range end in range");
        let mut segments = self.blocks[first].segments[..from].to_vec();
        segments.extend(replacement);
        segments.extend_from_slice(&self.blocks[last].segments[to + 1..]);
        // Too few to stand alone: take in a neighbour.
        if segments.len() < BLOCK / 2 && last + 1 < self.blocks.len() {
            last += 1;
            segments.extend_from_slice(&self.blocks[last].segments);
        } else if segments.len() < BLOCK / 2 && first > 0 {
            first -= 1;
            segments.splice(0..0, self.blocks[first].segments.iter().cloned());
        }
        self.blocks.splice(first..=last, group(segments));
        self.recount();
    }

    /// `(block, index in block)` of segment `index`.
    fn position(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len() {
            return None;
        }
        let block = self.starts.partition_point(|&start| start <= index) - 1;
        Some((block, index - self.starts[block]))
    }

    fn recount(&mut self) {
        self.starts.clear();
        let mut total = 0;
        for block in &self.blocks {
            self.starts.push(total);
            total += block.segments.len();
        }
        self.starts.push(total);
    }
}

/// Cuts segments into blocks of `BLOCK` to `2 × BLOCK` (fewer only when there are fewer).
fn group(segments: Vec<Arc<Segment>>) -> Vec<Arc<Block>> {
    if segments.is_empty() {
        return Vec::new();
    }
    let count = (segments.len() / BLOCK).max(1);
    let per_block = segments.len().div_ceil(count);
    segments.chunks(per_block).map(|part| Arc::new(Block::new(part.to_vec()))).collect()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn segment(name: String) -> Arc<Segment> {
        let text = Bytes::from(format!("  {name}:\n"));
        Arc::new(Segment { first: name, piece: Piece::new(text, b"") })
    }

    fn firsts(blocks: &Blocks) -> Vec<String> {
        blocks.iter().map(|s| s.first.clone()).collect()
    }

    /// The blocks' shape and cached CRCs agree with the flat sequence.
    fn check(blocks: &Blocks, expected: &[Arc<Segment>]) {
        assert_eq!(firsts(blocks), expected.iter().map(|s| s.first.clone()).collect::<Vec<_>>());
        assert_eq!(blocks.len(), expected.len());
        for (i, segment) in expected.iter().enumerate() {
            assert!(Arc::ptr_eq(blocks.get(i).unwrap(), segment));
            assert_eq!(blocks.locate(&segment.first), i);
        }
        for block in blocks.blocks() {
            let text: Vec<u8> = block.segments.iter().flat_map(|s| s.piece.text.to_vec()).collect();
            assert_eq!(block.text_crc.crc, crc32fast::hash(&text));
            if blocks.blocks().len() > 1 {
                assert!((BLOCK / 2..=2 * BLOCK).contains(&block.segments.len()), "{}", block.segments.len());
            }
        }
    }

    #[test]
    fn splices_keep_blocks_in_shape_and_in_order() {
        let mut flat: Vec<Arc<Segment>> = (0..200).map(|i| segment(format!("chart-{:05}", i * 10))).collect();
        let mut blocks = Blocks::new(flat.clone());
        check(&blocks, &flat);
        // Grow one place a lot, shrink another, replace across a block boundary, remove the
        // first. Replacements sort where they go: after the first name they replace.
        for (range, count) in [(5..=5, 90), (100..=180, 1), (30..=33, 2), (0..=0, 0)] {
            let stem = flat[*range.start()].first.clone();
            let replacement: Vec<_> = (0..count).map(|j| segment(format!("{stem}-{j:03}"))).collect();
            flat.splice(range.clone(), replacement.clone());
            blocks.splice(range, replacement);
            check(&blocks, &flat);
        }
        let replacement = segment(format!("{}-x", flat[40].first));
        blocks.set(40, replacement.clone());
        flat[40] = replacement;
        check(&blocks, &flat);
        let all = flat.len() - 1;
        blocks.splice(0..=all, vec![]);
        assert!(blocks.is_empty());
        assert_eq!(blocks.locate("anything"), 0);
    }
}
