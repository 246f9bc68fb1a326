import { describe, expect, it } from 'vitest';
import { matchRoute } from './routes.js';

describe('matchRoute', () => {
  it.each([
    ['/v1/chat/completions', 'openai.chat'],
    ['/api/v1/chat/completions', 'openai.chat'],
    ['/beta/chat/completions', 'openai.chat'],
    ['/v1/completions', 'openai.completions'],
    ['/v1/responses', 'openai.responses'],
    ['/v1/embeddings', 'openai.embeddings'],
    ['/v1/messages?beta=true', 'anthropic.messages'],
    ['/v1beta/models/gemini-2.5-flash:generateContent', 'gemini.generate'],
    ['/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', 'gemini.stream'],
  ])('%s → %s', (path, endpoint) => {
    expect(matchRoute('POST', path)?.endpoint).toBe(endpoint);
  });

  it('reads Azure deployments and Vertex models from the path', () => {
    expect(matchRoute('POST', '/openai/deployments/my-gpt/chat/completions?api-version=2024-02-01')).toEqual({
      endpoint: 'openai.chat', provider: 'openai', pathModel: 'my-gpt', azureDeployment: true,
    });
    const vertex = matchRoute('POST', '/v1beta1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:streamGenerateContent');
    expect(vertex).toMatchObject({ pathModel: 'gemini-2.5-flash', pathStream: true, sse: false });
  });

  it('passes everything else through', () => {
    expect(matchRoute('GET', '/v1/chat/completions')).toBeUndefined();
    expect(matchRoute('POST', '/v1/messages/count_tokens')).toBeUndefined();
    expect(matchRoute('POST', '/v1/models')).toBeUndefined();
    expect(matchRoute('POST', '/healthz')).toBeUndefined();
    expect(matchRoute('POST', '/v1/responses/resp_1/cancel')).toBeUndefined();
  });
});
