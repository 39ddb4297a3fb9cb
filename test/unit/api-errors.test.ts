import assert from 'node:assert/strict';
import { classifyApiError } from '../../common/api-errors.js';

describe('api-errors: what kind of trouble a run\'s error event reports', () => {
  const cases: [string, string, string][] = [
    ['api_error', 'Unable to connect to API (ConnectionRefused)', 'connection'],
    ['', 'fetch failed: getaddrinfo ENOTFOUND api.example.com', 'connection'],
    ['', 'connect ECONNREFUSED 127.0.0.1:1 (check the API key)', 'connection'],
    ['api_error_401', 'Failed to authenticate. API Error: 401 invalid x-api-key', 'auth'],
    ['', 'Invalid API key · Please run /login', 'auth'],
    ['', 'API Error: 429 Too Many Requests', 'rate-limit'],
    ['', 'You exceeded your current quota', 'rate-limit'],
    ['', 'API Error: 500 Internal Server Error', 'http'],
    ['', 'Overloaded', 'http'],
    ['', 'the tool crashed', 'other'],
  ];
  for (const [code, message, kind] of cases) {
    it(`"${message}" is ${kind}`, () => assert.equal(classifyApiError(code, message), kind));
  }
});
