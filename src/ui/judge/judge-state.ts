import type { JudgeEvent } from '../../events.js';
import { initialJobEventsState, reduceJobEvents, type JobEventsState } from '../components/job-events-state.js';

/** What the judge screen shows, folded from the judge job's events. */
export type JudgeState = JobEventsState<JudgeEvent>;
export const initialJudgeState: JudgeState = initialJobEventsState<JudgeEvent>();
export const reduceJudge = (s: JudgeState, e: JudgeEvent): JudgeState => reduceJobEvents(s, e);
