import './link-app.js';
