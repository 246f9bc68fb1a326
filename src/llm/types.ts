/**
 * The shared vocabulary of the metering domain. Pure types: no I/O, no gRPC.
 */

export type Provider = 'openai' | 'anthropic' | 'gemini';

/** One API shape tokenmeter understands. Azure OpenAI and OpenAI-compatible servers use the `openai.*` shapes. */
export type Endpoint =
  | 'openai.chat'
  | 'openai.completions'
  | 'openai.responses'
  | 'openai.embeddings'
  | 'anthropic.messages'
  | 'gemini.generate'
  | 'gemini.stream';

/**
 * Token usage in the provider's billing terms. A field that is `undefined` was not reported (unknown is not 0).
 * input includes cached input and cache writes; output includes reasoning.
 */
export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
}

/** What the request body says, read before the request goes upstream. */
export interface RequestFacts {
  model?: string;
  stream: boolean;
  /** max_tokens, max_completion_tokens, max_output_tokens or generationConfig.maxOutputTokens. */
  maxOutputTokens?: number;
  /** OpenAI chat: whether the client already asked for stream_options.include_usage. */
  includeUsage?: boolean;
}

/** Result of counting a request's input tokens before it goes upstream. */
export interface InputCount {
  tokens: number;
  /** BPE encoding used (o200k_base, cl100k_base) or the estimator's name. */
  encoding: string;
  /** true when the count is what the provider will bill (OpenAI BPE on text); false for estimates. */
  exact: boolean;
  /** Server-side tools the request enables (web search, code execution, …): the provider adds input the request cannot show. */
  serverTools?: string[];
}
