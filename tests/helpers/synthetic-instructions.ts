import { seededRandom } from '../../src/random.js';

/**
 * Deterministic synthetic instruction stream that the dedup tests and the benches (dedup, export) share: Alpaca-like
 * instructions (imperatives and questions, 4–40 words, a few hundred verbs/nouns/topics) with a given share of
 * near-duplicates (an earlier instruction with a word changed, dropped, added or two words swapped), the way a
 * generator produces them.
 */

const verbs = 'write describe explain generate create list give summarize classify compare suggest identify rewrite translate find name design outline analyze evaluate brainstorm propose convert edit calculate determine predict recommend compose draft develop construct provide explain discuss illustrate define estimate categorize rank paraphrase correct reformat extract detect infer argue justify critique plan organize prepare formulate invent imagine'.split(' ');
const adjectives = 'short detailed creative formal informal persuasive funny brief simple complex new original catchy professional friendly concise historical scientific practical modern traditional popular unusual effective healthy sustainable digital local global personal educational'.split(' ');
const things = 'story poem essay letter email list slogan headline tweet summary paragraph description review recipe plan strategy argument dialogue speech question answer title tagline joke riddle quiz outline report proposal advertisement menu itinerary schedule checklist guide tutorial lesson metaphor analogy haiku limerick song lyric definition explanation comparison example reason tip idea name sentence word phrase function algorithm program'.split(' ');
const topics = 'climate change|artificial intelligence|the ocean|renewable energy|a rainy day|the french revolution|machine learning|healthy eating|time management|the solar system|social media|remote work|electric cars|a small bakery|the water cycle|photosynthesis|democracy|the internet|space exploration|a haunted house|friendship|online privacy|the stock market|meditation|a job interview|global warming|a city park|ancient rome|quantum computing|a new smartphone|the human brain|volcanoes|a summer vacation|public transport|recycling|a birthday party|coffee|the olympic games|a robot|mountain climbing|a lost dog|cybersecurity|vaccines|the moon landing|a coffee shop|blockchain|the great wall of china|honey bees|a school library|video games|urban gardening|inflation|the renaissance|a marathon|black holes|a wedding|customer service|the amazon rainforest|chess|a startup company|nuclear power|jazz music|a mobile app|the immune system|dinosaurs|a farmers market|language learning|sleep|a hotel stay|electric guitars|the printing press|a zoo|wind turbines|earthquakes|a bookstore|teamwork|a cooking class|the periodic table|tsunamis|a road trip|cloud computing|the roman empire|a science fair|yoga|a museum visit|plastic pollution|a football match|the industrial revolution|a snowstorm|online shopping|gene editing|a small village|the theory of relativity|a pirate ship|home workouts|a chocolate cake|bird migration|a hospital|tea ceremonies|a thunderstorm|the cold war|3d printing|a dragon|financial planning|a jungle|mindfulness|self driving cars|a castle|the lottery|water pollution|an island'.split('|');
const audiences = 'children|teenagers|beginners|experts|senior citizens|college students|busy parents|small business owners|software engineers|teachers|tourists|doctors|new employees|a general audience'.split('|');
const frames: Array<(p: () => string) => string> = [
  (p) => `${cap(p())} a ${p()} ${p()} about ${p()}.`,
  (p) => `${cap(p())} a ${p()} about ${p()} for ${p()}.`,
  (p) => `${cap(p())} ${p()} ways to improve ${p()}.`,
  (p) => `What are the main differences between ${p()} and ${p()}?`,
  (p) => `How does ${p()} affect ${p()}?`,
  (p) => `Explain why ${p()} is important for ${p()}.`,
  (p) => `Give three examples of ${p()} related to ${p()}.`,
  (p) => `${cap(p())} the following ${p()} so that it is easier for ${p()} to understand.`,
  (p) => `Classify the following ${p()} as positive, negative or neutral.`,
  (p) => `Can you ${p()} a ${p()} that explains ${p()} in simple terms?`,
  (p) => `Imagine you are an expert on ${p()}. ${cap(p())} a ${p()} ${p()} for ${p()}.`,
  (p) => `List ${p()} facts about ${p()} that most people do not know.`,
  (p) => `${cap(p())} the pros and cons of ${p()} compared with ${p()}.`,
  (p) => `Find the word that does not belong in this list and explain your choice.`,
  (p) => `Suggest a ${p()} name for a company that works on ${p()}.`,
  (p) => `${cap(p())} a ${p()} ${p()} that uses ${p()} as a metaphor for ${p()}, and keep it under ${p()} words.`,
  (p) => `Given the ${p()} below, ${p()} its main idea in one sentence.`,
  (p) => `Write a step by step ${p()} on how to get started with ${p()} for ${p()}, including common mistakes to avoid and a short list of resources.`,
];
function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** One fresh instruction: a frame with each slot filled by a verb, adjective, thing, topic, audience or number. */
function framedInstruction(rnd: () => number): string {
  const frame = pick(rnd, frames);
  let slot = 0;
  const fill = (): string => {
    slot++;
    const r = rnd();
    if (slot === 1) return pick(rnd, verbs);
    if (r < 0.18) return `${pick(rnd, adjectives)} ${zipfWord(rnd)}`;
    if (r < 0.38) return `${zipfWord(rnd)} ${pick(rnd, things)}`;
    if (r < 0.85) return `${pick(rnd, topics)} ${zipfWord(rnd)}`;
    if (r < 0.95) return pick(rnd, audiences);
    return String(2 + Math.floor(rnd() * 98));
  };
  return frame(fill);
}

// Content words: 4,000 pseudo-words drawn with Zipf's law (s = 1), as words in real instructions are.
const syllables = 'ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu ga ge gi go gu la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu za ze zi zo zu'.split(' ');
const contentWords: string[] = [];
for (let i = 0; contentWords.length < 4000; i++) {
  const a = syllables[i % syllables.length]!;
  const b = syllables[Math.floor(i / syllables.length) % syllables.length]!;
  const c = i >= syllables.length * syllables.length ? syllables[(i * 7) % syllables.length]! : '';
  contentWords.push(a + b + c + (i % 3 === 0 ? 'n' : ''));
}
const zipfCdf: number[] = [];
{
  let sum = 0;
  for (let r = 1; r <= contentWords.length; r++) zipfCdf.push((sum += 1 / r));
  for (let i = 0; i < zipfCdf.length; i++) zipfCdf[i]! /= sum;
}
function zipfWord(rnd: () => number): string {
  const x = rnd();
  let lo = 0;
  let hi = zipfCdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (zipfCdf[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return contentWords[lo]!;
}
const functionWords = 'the a of to and in for that is on with as this it be by an about from your how what which'.split(' ');

/** A free-form instruction: a verb, then 3–40 words, a third of them function words. */
function freeInstruction(rnd: () => number): string {
  const len = 3 + Math.floor(-Math.log(1 - rnd()) * 9) % 38;
  const w = [cap(pick(rnd, verbs))];
  for (let i = 0; i < len; i++) w.push(rnd() < 0.33 ? pick(rnd, functionWords) : rnd() < 0.1 ? pick(rnd, things) : zipfWord(rnd));
  return `${w.join(' ')}${rnd() < 0.2 ? '?' : '.'}`;
}

/** A near-duplicate of `s`: one small edit, as a model repeating itself produces. */
function perturb(rnd: () => number, s: string): string {
  const w = s.split(' ');
  const i = Math.floor(rnd() * w.length);
  const r = rnd();
  if (r < 0.3) w[i] = pick(rnd, adjectives);
  else if (r < 0.5 && w.length > 4) w.splice(i, 1);
  else if (r < 0.7) w.splice(i, 0, pick(rnd, ['please', 'briefly', 'clearly', 'really', 'also']));
  else if (i + 1 < w.length) [w[i], w[i + 1]] = [w[i + 1]!, w[i]!];
  else w.push('now');
  return w.join(' ');
}

export function syntheticInstructions(count: number, opts: { seed?: number; nearDuplicateShare?: number } = {}): string[] {
  const rnd = seededRandom(opts.seed ?? 42);
  const share = opts.nearDuplicateShare ?? 0.04;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (out.length > 10 && rnd() < share) out.push(perturb(rnd, out[Math.floor(rnd() * out.length)]!));
    else out.push(rnd() < 0.15 ? framedInstruction(rnd) : freeInstruction(rnd));
  }
  return out;
}
