import { BlaineError } from '../error.js';
/** A disk that cannot give a host catalog back (nothing on it, or what is there is damaged). */
export class RebuildError extends BlaineError {}
