/** Types for the ES modules of `@highlightjs/cdn-assets` (the package ships none): what highlight.ts uses. */
declare module '@highlightjs/cdn-assets/es/core.min.js' {
  interface HighlightJs {
    registerLanguage(name: string, language: unknown): void;
    /** Highlights `code`; `value` is HTML in which every character of the code is escaped. */
    highlight(code: string, options: { language: string; ignoreIllegals?: boolean }): { value: string; language?: string };
  }
  const hljs: HighlightJs;
  export default hljs;
}

declare module '@highlightjs/cdn-assets/es/languages/*' {
  const language: unknown;
  export default language;
}
