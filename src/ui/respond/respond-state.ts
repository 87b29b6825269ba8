import type { RespondEvent } from '../../events.js';
import { initialJobEventsState, reduceJobEvents, type JobEventsState } from '../components/job-events-state.js';

/** What the respond screen shows, folded from respond's events. */
export type RespondState = JobEventsState<RespondEvent>;
export const initialRespondState: RespondState = initialJobEventsState<RespondEvent>();
export const reduceRespond = (s: RespondState, e: RespondEvent): RespondState => reduceJobEvents(s, e);
